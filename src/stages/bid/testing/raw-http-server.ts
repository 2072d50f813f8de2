import { type AddressInfo, createServer, type Server, type Socket } from 'node:net'

/** One HTTP request as it came off the wire. */
export interface RawRequest {
  /** Request line and headers, without the blank line. */
  readonly head: string
  readonly body: Buffer
  /** Which accepted connection it came on (0, 1, …). */
  readonly connection: number
  /** Its place among the requests of that connection (0, 1, …). */
  readonly indexOnConnection: number
}

/** Answers a request by writing whatever bytes it likes on `socket` (or closing it, or nothing). */
export type RawHandler = (request: RawRequest, socket: Socket) => void

export interface RawHttpServer {
  readonly url: string
  readonly port: number
  readonly requests: RawRequest[]
  /** Connections accepted so far, and those still open. */
  readonly accepted: number
  readonly sockets: ReadonlySet<Socket>
  /** Bytes received that were not part of a whole request (e.g. on a warm, unused connection). */
  readonly strayBytes: number
  handle(handler: RawHandler): void
  close(): Promise<void>
}

/**
 * A TCP server that reads HTTP/1.1 requests (content-length bodies) and lets the test write the
 * response bytes itself: status lines, framing, closes and resets exactly as a misbehaving DSP would.
 * For the socket transport's tests, which need control below what node:http allows.
 */
export async function startRawHttpServer(initial: RawHandler, port = 0): Promise<RawHttpServer> {
  let handler = initial
  let accepted = 0
  let strayBytes = 0
  const requests: RawRequest[] = []
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    const connection = accepted++
    let indexOnConnection = 0
    let pending = Buffer.alloc(0)
    sockets.add(socket)
    socket.on('close', () => {
      sockets.delete(socket)
      strayBytes += pending.length
    })
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk])
      for (;;) {
        const headEnd = pending.indexOf('\r\n\r\n')
        if (headEnd < 0) return
        const head = pending.subarray(0, headEnd).toString('latin1')
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0)
        if (pending.length < headEnd + 4 + length) return
        const body = Buffer.from(pending.subarray(headEnd + 4, headEnd + 4 + length))
        pending = pending.subarray(headEnd + 4 + length)
        const request = { head, body, connection, indexOnConnection: indexOnConnection++ }
        requests.push(request)
        handler(request, socket)
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const actualPort = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${actualPort}/bid`,
    port: actualPort,
    requests,
    get accepted() {
      return accepted
    },
    sockets,
    get strayBytes() {
      return strayBytes
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

/** A complete response with a content-length body. */
export function rawResponse(status: number, body = '', headers = ''): string {
  const reason = status === 200 ? 'OK' : 'Status'
  return `HTTP/1.1 ${status} ${reason}\r\n${headers}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
}

/** A TCP port with nothing listening on it (just released by a throwaway server). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
