import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { gunzipSync, gzipSync } from 'node:zlib'

/** One request as the DSP received it (gzip bodies are decoded). */
export interface RecordedCall {
  readonly headers: IncomingHttpHeaders
  readonly body: Record<string, unknown>
  /** The bytes on the wire, before decoding. */
  readonly raw: Buffer
  readonly receivedAt: number
}

/** Answers one call; `res.socket` is there for tests that cut the connection. */
export type DspHandler = (call: RecordedCall, res: ServerResponse) => void

export interface LoopbackDsp {
  readonly url: string
  readonly calls: RecordedCall[]
  /** TCP connections accepted so far. */
  readonly connectionCount: number
  handle(handler: DspHandler): void
  close(): Promise<void>
}

/**
 * A DSP on 127.0.0.1 for the bid stage's tests, on node:http (independent of undici). Unlike the
 * end-to-end mock it decodes gzip requests, counts connections, and gives the handler the raw
 * response so a test can misbehave at any point of the exchange.
 */
export async function startLoopbackDsp(initial: DspHandler): Promise<LoopbackDsp> {
  let handler = initial
  let connectionCount = 0
  const calls: RecordedCall[] = []
  const sockets = new Set<Socket>()
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks)
      const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8')
      const call = { headers: req.headers, body: parseObject(text), raw, receivedAt: performance.now() }
      calls.push(call)
      handler(call, res)
    })
  })
  server.on('connection', (socket: Socket) => {
    connectionCount++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}/bid`,
    calls,
    get connectionCount() {
      return connectionCount
    },
    handle(next) {
      handler = next
    },
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

function parseObject(text: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>
  } catch {
    return {}
  }
}

/** Ready-made behaviours. */
export const answer = {
  noBid: (): DspHandler => (_call, res) => void res.writeHead(204).end(),
  status:
    (status: number, body = ''): DspHandler =>
    (_call, res) =>
      void res.writeHead(status).end(body),
  raw:
    (body: string): DspHandler =>
    (_call, res) =>
      void res.writeHead(200, JSON_HEADERS).end(body),
  /** One bid per imp at `price`, after `delayMs`. */
  bid: (price: number, delayMs = 0, options: { gzip?: boolean } = {}): DspHandler => {
    return (call, res) => {
      const send = (): void => {
        if (res.destroyed) return
        const json = bidResponseFor(call.body, price)
        if (options.gzip)
          res.writeHead(200, { ...JSON_HEADERS, 'content-encoding': 'gzip' }).end(gzipSync(json))
        else res.writeHead(200, JSON_HEADERS).end(json)
      }
      if (delayMs > 0) setTimeout(send, delayMs)
      else send()
    }
  },
  hang: (): DspHandler => () => {},
  /** Headers and part of the body, then the connection is destroyed. */
  resetMidBody: (): DspHandler => (call, res) => {
    const json = bidResponseFor(call.body, 1)
    res.writeHead(200, { ...JSON_HEADERS, 'content-length': String(json.length) })
    res.write(json.slice(0, 20))
    setTimeout(() => res.socket?.destroy(), 5)
  },
  /** The whole body, one byte every `intervalMs`. */
  trickle:
    (intervalMs: number): DspHandler =>
    (call, res) => {
      const json = bidResponseFor(call.body, 1)
      res.writeHead(200, { ...JSON_HEADERS, 'content-length': String(json.length) })
      let i = 0
      const timer = setInterval(() => {
        if (res.destroyed || i >= json.length) return clearInterval(timer)
        res.write(json[i++])
        if (i === json.length) res.end()
      }, intervalMs)
    },
  /** A valid JSON body of `bytes` bytes, chunked (no content-length) when `chunked`. */
  large:
    (bytes: number, chunked: boolean): DspHandler =>
    (call, res) => {
      const json = paddedBidResponse(call.body, bytes)
      if (chunked) {
        res.writeHead(200, JSON_HEADERS)
        for (let i = 0; i < json.length; i += 4096) res.write(json.slice(i, i + 4096))
        res.end()
      } else res.writeHead(200, { ...JSON_HEADERS, 'content-length': String(json.length) }).end(json)
    },
  /** A small gzip body that inflates to `bytes`. */
  gzipBomb:
    (bytes: number): DspHandler =>
    (call, res) => {
      const body = gzipSync(paddedBidResponse(call.body, bytes))
      res.writeHead(200, { ...JSON_HEADERS, 'content-encoding': 'gzip' }).end(body)
    },
}

const JSON_HEADERS = { 'content-type': 'application/json' }

export function bidResponseFor(request: Record<string, unknown>, price: number): string {
  const imps = (request['imp'] as { id: string }[] | undefined) ?? []
  return JSON.stringify({
    id: request['id'],
    cur: 'USD',
    seatbid: [
      { seat: 'seat-1', bid: imps.map((imp, i) => ({ id: `b${i}`, impid: imp.id, price, adm: '<div/>' })) },
    ],
  })
}

function paddedBidResponse(request: Record<string, unknown>, bytes: number): string {
  const json = bidResponseFor(request, 1)
  return `${json.slice(0, -1)},"ext":{"pad":"${'x'.repeat(Math.max(0, bytes - json.length))}"}}`
}
