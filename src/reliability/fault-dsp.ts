import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { gzipSync } from 'node:zlib'

/**
 * A DSP on 127.0.0.1 (node:http, independent of the exchange's stack) whose behaviour a test
 * switches while load runs: healthy (bids on a share of requests after a delay), or one of the
 * faults below on a share of its calls. Every fault comes in variants, used in turn, so one phase
 * covers a family of failures rather than a single one.
 */
export type FaultKind = 'hang' | 'trickle' | 'reset' | 'garbage' | 'huge'

export interface FaultDspMode {
  /** Delay of a healthy answer, ms. */
  readonly delayMs: number
  /** The fault given to `share` of the calls (spread evenly by a counter); null = healthy. */
  readonly fault: FaultKind | null
  /** 0..1. */
  readonly share: number
}

export const HEALTHY: FaultDspMode = Object.freeze({ delayMs: 3, fault: null, share: 0 })

export interface FaultDspSpec {
  readonly id: string
  /** CPM of its bids (USD). */
  readonly price: number
  /** Share of requests it bids on when healthy, decided by a hash of the request id. */
  readonly bidRate: number
}

export interface FaultDspStats {
  /** Bid requests (POST with a complete body). */
  requests: number
  /** Healthy answers: bids and no-bids. */
  bids: number
  noBids: number
  /** Faulty answers by variant, e.g. `reset:mid-body-rst`. */
  readonly faults: Map<string, number>
  /** GET /burl: the exchange forwarding a counted billing notice to this DSP's own URL. */
  forwards: number
  /** Keys (`a` query parameter = auction id) of the forwards received, for duplicate checks. */
  readonly forwardKeys: Map<string, number>
}

export interface FaultDsp {
  readonly id: string
  readonly url: string
  readonly stats: FaultDspStats
  setMode(mode: FaultDspMode): void
  close(): Promise<void>
}

const VARIANTS: Readonly<Record<FaultKind, readonly string[]>> = {
  // Never answers; the call must end at the auction's deadline.
  hang: ['silent', 'headers-only'],
  // A complete valid answer, one byte at a time: the whole HTTP answer, or only its body.
  trickle: ['body', 'whole-answer'],
  // The connection dies: before any byte, or part-way through the body (FIN or RST).
  reset: ['mid-body-rst', 'mid-body-fin', 'before-answer', 'after-headers-chunked'],
  garbage: [
    'not-json',
    'truncated-json',
    'json-array',
    'wrong-auction-id',
    'wrong-currency',
    'binary',
    'empty-200',
    'status-500',
    'status-302',
    'bad-bids',
    'deep-bid-ext',
    'deep-seatbid',
    'proto-keys',
    'many-bids',
    'absurd-price',
    'fake-gzip',
    'raw-bad-status-line',
    'raw-bad-chunk',
    'raw-conflicting-length',
    'raw-header-without-colon',
    'raw-not-http',
    'short-content-length',
  ],
  huge: ['content-length-2mib', 'chunked-2mib', 'declared-1gib', 'gzip-bomb', 'status-500-2mib'],
}

const TWO_MIB = 2 * 1024 * 1024
let hugeBody: Buffer | null = null
let gzipBomb: Buffer | null = null

/** 2 MiB that starts like a bid response (so only its size is wrong). */
function huge(): Buffer {
  hugeBody ??= Buffer.concat([
    Buffer.from('{"id":"x","seatbid":[{"bid":[{"impid":"1","price":1,"adm":"'),
    Buffer.alloc(TWO_MIB, 'a'),
    Buffer.from('"}]}]}'),
  ])
  return hugeBody
}

/** ~64 KiB of gzip that inflates to 64 MiB. */
function bomb(): Buffer {
  gzipBomb ??= gzipSync(Buffer.alloc(64 * 1024 * 1024, ' '), { level: 9 })
  return gzipBomb
}

/** Pseudo-random bytes (fixed), including invalid UTF-8 and NULs. */
const BINARY = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 131 + 7) % 256))

export async function startFaultDsp(spec: FaultDspSpec): Promise<FaultDsp> {
  // Built before any load: making the bomb takes a few hundred ms of this process's CPU.
  huge()
  bomb()
  let mode: FaultDspMode = HEALTHY
  let callCount = 0
  const variantCount = new Map<FaultKind, number>()
  const stats: FaultDspStats = {
    requests: 0,
    bids: 0,
    noBids: 0,
    faults: new Map(),
    forwards: 0,
    forwardKeys: new Map(),
  }
  const open = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  let base = ''

  const later = (fn: () => void, ms: number): void => {
    const timer = setTimeout(() => {
      timers.delete(timer)
      fn()
    }, ms)
    timers.add(timer)
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (req.method === 'GET' && req.url?.startsWith('/burl')) {
        stats.forwards++
        const key = new URL(req.url, 'http://x').searchParams.get('a') ?? ''
        stats.forwardKeys.set(key, (stats.forwardKeys.get(key) ?? 0) + 1)
        return void res.writeHead(204).end()
      }
      if (req.method !== 'POST') return void res.writeHead(204).end()
      let request: { id?: unknown; imp?: { id?: unknown }[] }
      try {
        request = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof request
      } catch {
        return void res.writeHead(400).end()
      }
      stats.requests++
      const n = callCount++
      const isFault = mode.fault !== null && Math.floor((n + 1) * mode.share) > Math.floor(n * mode.share)
      if (isFault && mode.fault !== null) {
        const kind = mode.fault
        const i = variantCount.get(kind) ?? 0
        variantCount.set(kind, i + 1)
        const variants = VARIANTS[kind]
        const variant = variants[i % variants.length]!
        const label = `${kind}:${variant}`
        stats.faults.set(label, (stats.faults.get(label) ?? 0) + 1)
        return misbehave(kind, variant, request, req, res)
      }
      const id = String(request.id)
      const impId = String(request.imp?.[0]?.id ?? '1')
      const answer = (): void => {
        if (res.destroyed) return
        if (hash(id) >= spec.bidRate) {
          stats.noBids++
          return void res.writeHead(204).end()
        }
        stats.bids++
        res.writeHead(200, { 'content-type': 'application/json' }).end(bidBody(id, impId, spec.price))
      }
      if (mode.delayMs > 0) later(answer, mode.delayMs)
      else answer()
    })
  })

  const bidBody = (id: string, impId: string, price: number, extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      id,
      cur: 'USD',
      seatbid: [
        {
          seat: spec.id,
          bid: [
            {
              id: `${spec.id}-b`,
              impid: impId,
              price,
              adm: '<div>ad ${AUCTION_PRICE}</div>',
              crid: `${spec.id}-creative`,
              adomain: [`${spec.id}.example`],
              burl: `${base}/burl?a=\${AUCTION_ID}&p=\${AUCTION_PRICE}`,
              ...extra,
            },
          ],
        },
      ],
    })

  const misbehave = (
    kind: FaultKind,
    variant: string,
    request: { id?: unknown; imp?: { id?: unknown }[] },
    req: IncomingMessage,
    res: ServerResponse,
  ): void => {
    const id = String(request.id)
    const socket = req.socket
    const raw = (text: string | Buffer, then: 'end' | 'hold' = 'end'): void => {
      socket.write(text)
      if (then === 'end') socket.end()
    }
    switch (`${kind}:${variant}`) {
      case 'hang:silent':
        return
      case 'hang:headers-only':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' })
        res.flushHeaders()
        return
      case 'trickle:body': {
        const body = bidBody(id, '1', spec.price)
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
        return trickle(
          body,
          (b) => res.write(b),
          () => res.end(),
          () => res.destroyed,
        )
      }
      case 'trickle:whole-answer': {
        const body = bidBody(id, '1', spec.price)
        const whole = `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
        return trickle(
          whole,
          (b) => socket.write(b),
          () => socket.end(),
          () => socket.destroyed,
        )
      }
      case 'reset:mid-body-rst':
      case 'reset:mid-body-fin': {
        const body = bidBody(id, '1', spec.price)
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
        res.write(body.slice(0, body.length >> 1))
        // Let the half body reach the exchange first, then cut the connection.
        return later(() => (variant === 'mid-body-rst' ? socket.resetAndDestroy() : socket.destroySoon()), 2)
      }
      case 'reset:before-answer':
        return void socket.resetAndDestroy()
      case 'reset:after-headers-chunked':
        res.writeHead(200, { 'content-type': 'application/json' })
        res.write('{"id":')
        return later(() => socket.resetAndDestroy(), 2)
      case 'garbage:not-json':
        return json(res, 200, 'this is not json {{{')
      case 'garbage:truncated-json':
        return json(res, 200, bidBody(id, '1', spec.price).slice(0, 40))
      case 'garbage:json-array':
        return json(res, 200, '[1,2,3]')
      case 'garbage:wrong-auction-id':
        return json(res, 200, bidBody('another-auction', '1', spec.price))
      case 'garbage:wrong-currency':
        return json(res, 200, bidBody(id, '1', spec.price).replace('"cur":"USD"', '"cur":"EUR"'))
      case 'garbage:binary':
        res.writeHead(200, { 'content-type': 'application/octet-stream' })
        return void res.end(BINARY)
      case 'garbage:empty-200':
        return json(res, 200, '')
      case 'garbage:status-500':
        res.writeHead(500, { 'content-type': 'text/html' })
        return void res.end('<html><body>upstream exploded</body></html>')
      case 'garbage:status-302':
        res.writeHead(302, { location: 'http://127.0.0.1:9/elsewhere' })
        return void res.end()
      case 'garbage:bad-bids':
        return json(
          res,
          200,
          JSON.stringify({
            id,
            seatbid: [
              { bid: [{ impid: 1, price: 'abc' }, { impid: '1', price: -1, adm: 'x' }, null] },
              { seat: 7, bid: [{ impid: '1', price: 1.1, adm: { nested: true } }] },
            ],
          }),
        )
      case 'garbage:deep-bid-ext':
        // A winning price with an `ext` nested past JSON.stringify's recursion limit.
        return json(res, 200, bidBody(id, '1', 9.99).replace('"crid"', `"ext":${deep(6_000)},"crid"`))
      case 'garbage:deep-seatbid':
        return json(res, 200, `{"id":${JSON.stringify(id)},"seatbid":${deep(100_000)}}`)
      case 'garbage:proto-keys':
        return json(
          res,
          200,
          `{"__proto__":{"polluted":true},"id":${JSON.stringify(id)},"cur":"USD","seatbid":[{"bid":[{"__proto__":{"price":99},"constructor":{"prototype":{"polluted":true}},"impid":"1","price":1.05,"adm":"x","crid":"p"}]}]}`,
        )
      case 'garbage:many-bids': {
        const bids = Array.from({ length: 5_000 }, (_, i) => `{"impid":"nope-${i}","price":1}`)
        return json(res, 200, `{"id":${JSON.stringify(id)},"seatbid":[{"bid":[${bids.join(',')}]}]}`)
      }
      case 'garbage:absurd-price':
        return json(res, 200, bidBody(id, '1', 1e308))
      case 'garbage:fake-gzip':
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' })
        return void res.end(bidBody(id, '1', spec.price))
      case 'garbage:raw-bad-status-line':
        return raw('HTTP/1.1 2x0 OK\r\ncontent-length: 2\r\n\r\n{}')
      case 'garbage:raw-bad-chunk':
        return raw('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n')
      case 'garbage:raw-conflicting-length':
        return raw('HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 5\r\n\r\n{}')
      case 'garbage:raw-header-without-colon':
        return raw('HTTP/1.1 200 OK\r\nthis is not a header\r\n\r\n')
      case 'garbage:raw-not-http':
        return raw('garbage garbage garbage\r\n\r\n')
      case 'garbage:short-content-length':
        // Promises 400 bytes, sends 2, keeps the connection: the call can only end at the deadline.
        return raw('HTTP/1.1 200 OK\r\ncontent-length: 400\r\n\r\n{}', 'hold')
      case 'huge:content-length-2mib':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': huge().length })
        return void res.end(huge())
      case 'huge:chunked-2mib':
        res.writeHead(200, { 'content-type': 'application/json' })
        for (let at = 0; at < huge().length; at += 64 * 1024) res.write(huge().subarray(at, at + 64 * 1024))
        return void res.end()
      case 'huge:declared-1gib':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(2 ** 30) })
        return void res.write('{"id":')
      case 'huge:gzip-bomb':
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' })
        return void res.end(bomb())
      case 'huge:status-500-2mib':
        res.writeHead(500, { 'content-type': 'text/plain' })
        return void res.end(huge())
      default:
        throw new Error(`fault DSP: no variant ${kind}:${variant}`)
    }
  }

  const trickle = (
    text: string,
    write: (b: string) => void,
    end: () => void,
    isGone: () => boolean,
  ): void => {
    let i = 0
    const step = (): void => {
      if (isGone()) return
      write(text[i++]!)
      if (i >= text.length) end()
      else later(step, 10)
    }
    step()
  }

  server.on('connection', (socket: Socket) => {
    open.add(socket)
    socket.on('close', () => open.delete(socket))
    // Resets and aborts by the exchange are expected here; an unhandled 'error' would crash the test.
    socket.on('error', () => undefined)
  })
  server.on('clientError', (_err, socket: Socket) => socket.destroy())
  server.keepAliveTimeout = 60_000
  server.headersTimeout = 0
  server.requestTimeout = 0
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    id: spec.id,
    url: `${base}/bid`,
    stats,
    setMode(next) {
      mode = next
    },
    async close() {
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      for (const socket of open) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

function json(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(body)
}

/** `depth` nested arrays around a number. */
function deep(depth: number): string {
  return `${'['.repeat(depth)}1${']'.repeat(depth)}`
}

/** FNV-1a of a string, as a number in [0, 1): the same request always gets the same decision. */
export function hash(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return (h >>> 0) / 4294967296
}
