import type { Socket } from 'node:net'
import { buildConnector, type Dispatcher, Pool } from 'undici'
import type { DspConfig } from '../../../config/config.js'
import type { DspFailureKind } from '../../../errors.js'
import type { CallCarrier, DspCall } from '../dsp-call.js'
import type { DspTransport, RequestHeaders } from './dsp-transport.js'

/** Subtracted from a DSP's `keep-alive: timeout=N` hint so we never reuse a socket it is closing. */
const KEEP_ALIVE_THRESHOLD_MS = 1_000
/** The longest idle time a DSP's keep-alive hint can get us to keep a socket. */
const KEEP_ALIVE_MAX_MS = 60_000
/**
 * undici's headers/body timeouts are coarse (its fast timers tick every ~0.5 s) and only a backstop:
 * the fan-out's one timer per auction is the real deadline. A constant per DSP lets undici refresh
 * its timer instead of allocating one per call.
 */
const BACKSTOP_TIMEOUT_MS = 2_000

/** Preallocated abort reasons: aborting costs no stack capture. */
const DEADLINE_ABORT = new Error('auction deadline reached')
const TOO_LARGE_ABORT = new Error('DSP response larger than its cap')

/**
 * One undici Pool per DSP origin, explicit about everything undici defaults to minutes or infinity:
 * `connections` (a bulkhead), no pipelining (a slow answer must not hold up the next auction's call
 * behind it), keep-alive that follows the DSP's own `keep-alive: timeout=N` hint (less a threshold,
 * capped) or `keepAliveMs` without one, and connect/headers/body timeouts. Calls go through
 * `Pool.dispatch` with a plain handler object: no promise, no body stream, no per-call closure.
 */
export class UndiciTransport implements DspTransport {
  readonly name = 'undici'
  readonly #pool: Pool
  readonly #warm: WarmSockets
  readonly #path: string
  readonly #headers: string[]

  constructor(
    readonly config: DspConfig,
    headers: RequestHeaders,
  ) {
    const url = new URL(config.endpoint)
    const connectTimeoutMs = Math.max(config.timeoutMs, 1_000)
    this.#warm = new WarmSockets(url, buildConnector({ timeout: connectTimeoutMs }))
    this.#pool = new Pool(url.origin, {
      connections: config.connections,
      pipelining: 1,
      keepAliveTimeout: config.keepAliveMs ?? 4_000,
      keepAliveMaxTimeout: KEEP_ALIVE_MAX_MS,
      keepAliveTimeoutThreshold: KEEP_ALIVE_THRESHOLD_MS,
      headersTimeout: BACKSTOP_TIMEOUT_MS,
      bodyTimeout: BACKSTOP_TIMEOUT_MS,
      connect: this.#warm.connector,
    })
    this.#path = url.pathname + url.search
    this.#headers = [...headers]
  }

  get idleCount(): number {
    return this.#warm.idleCount
  }

  send(body: Buffer, call: DspCall): void {
    this.#pool.dispatch(
      { method: 'POST', path: this.#path, headers: this.#headers, body },
      new UndiciCallHandler(call, this.config.maxResponseBytes),
    )
  }

  warm(count: number): Promise<void> {
    return this.#warm.open(Math.min(count, this.config.connections))
  }

  async close(): Promise<void> {
    this.#warm.destroy()
    await this.#pool.close().catch(() => this.#pool.destroy())
  }
}

/**
 * Adapts undici's dispatch callbacks to a DspCall. The legacy handler methods
 * (onConnect/onHeaders/onData/onComplete/onError) are what undici runs natively; the newer
 * controller API is wrapped in an adapter object per call. Connection refused, resets (before or
 * mid-body), bodies over the DSP's cap (by content-length or by bytes received) and undici's own
 * timeouts all end as failure values.
 */
class UndiciCallHandler implements Dispatcher.DispatchHandler, CallCarrier {
  #status = 0
  #abort: ((err?: Error) => void) | null = null
  #chunks: Buffer[] | null = null
  #bytes = 0
  #isGzip = false

  constructor(
    readonly call: DspCall,
    readonly maxResponseBytes: number,
  ) {}

  abortCall(): void {
    this.#abort?.(DEADLINE_ABORT)
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort
    this.call.attach(this) // aborts at once if the call was given up while queued
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    this.#status = statusCode
    if (statusCode < 200) return true // 1xx: the real status follows
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!
      if (name.length === 16 && name.toString('latin1').toLowerCase() === 'content-encoding') {
        this.#isGzip = rawHeaders[i + 1]!.toString('latin1').trim().toLowerCase() === 'gzip'
      } else if (name.length === 14 && name.toString('latin1').toLowerCase() === 'content-length') {
        if (Number(rawHeaders[i + 1]!.toString('latin1')) > this.maxResponseBytes) {
          this.#failAndAbort('too_large')
          return false
        }
      }
    }
    return true
  }

  onData(chunk: Buffer): boolean {
    if (this.call.isSettled) return false
    if (this.#status !== 200) return true // only a 200's body is read
    this.#bytes += chunk.length
    if (this.#bytes > this.maxResponseBytes) {
      this.#failAndAbort('too_large')
      return false
    }
    if (this.#chunks === null) this.#chunks = [chunk]
    else this.#chunks.push(chunk)
    return true
  }

  onComplete(): void {
    const chunks = this.#chunks
    this.#chunks = null
    const raw = chunks === null ? null : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.#bytes)
    this.call.complete(this.#status, raw, this.#isGzip)
  }

  onError(err: Error): void {
    this.#chunks = null
    this.call.fail(err === DEADLINE_ABORT ? 'timeout' : classifyError(err))
  }

  #failAndAbort(kind: DspFailureKind): void {
    this.#chunks = null
    this.call.fail(kind)
    this.#abort?.(TOO_LARGE_ABORT)
  }
}

function classifyError(err: Error): DspFailureKind {
  const code = (err as { code?: string }).code
  switch (code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'timeout'
    case 'UND_ERR_RES_EXCEEDED_MAX_SIZE':
      return 'too_large'
    case 'UND_ERR_HEADERS_OVERFLOW':
      return 'bad_response'
    default:
      // llhttp's parse errors: the DSP spoke broken HTTP (the socket transport's reading too).
      if (code?.startsWith('HPE_') === true) return 'bad_response'
      return 'network' // ECONNREFUSED, ECONNRESET, UND_ERR_SOCKET (closed mid-body), …
  }
}

type Connector = buildConnector.connector
type ConnectOptions = buildConnector.Options

/**
 * Connected sockets waiting for the pool. undici builds a connection when a call needs one; this
 * connector hands it a warm socket while any is left alive, and otherwise connects as usual.
 * The sockets are only connected, no HTTP request is sent: DSPs see no warm-up traffic and need no
 * endpoint for it. A DSP that is down is not an error here: its calls fail as `network`.
 */
export class WarmSockets {
  readonly #idle: Socket[] = []
  readonly #target: ConnectOptions

  constructor(
    url: URL,
    readonly connect: Connector,
  ) {
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
    this.#target = { host: url.host, hostname, protocol: url.protocol, port: url.port }
  }

  get idleCount(): number {
    return this.#idle.length
  }

  /** The pool's `connect` option. */
  readonly connector: Connector = (options, callback) => {
    const socket = this.#take()
    // Called back on a later tick, as a real connect is: undici does not expect it synchronously.
    if (socket !== null) process.nextTick(callback, null, socket)
    else this.connect(options, callback)
  }

  open(count: number): Promise<void> {
    const attempts: Promise<void>[] = []
    for (let i = 0; i < count; i++) {
      attempts.push(
        new Promise((resolve) => {
          this.connect(this.#target, (err, socket) => {
            if (err === null && socket !== null) this.#keep(socket as Socket)
            resolve()
          })
        }),
      )
    }
    return Promise.all(attempts).then(() => undefined)
  }

  destroy(): void {
    for (const socket of this.#idle.splice(0)) socket.destroy()
  }

  #keep(socket: Socket): void {
    // While idle here the socket has no owner: drop it when the DSP closes it, ignore its errors.
    const drop = (): void => {
      const i = this.#idle.indexOf(socket)
      if (i >= 0) this.#idle.splice(i, 1)
    }
    socket.on('error', ignore).once('close', drop)
    ;(socket as WarmSocket)[RELEASE] = () => socket.off('error', ignore).off('close', drop)
    this.#idle.push(socket)
  }

  #take(): Socket | null {
    for (let socket = this.#idle.pop(); socket !== undefined; socket = this.#idle.pop()) {
      ;(socket as WarmSocket)[RELEASE]?.()
      if (!socket.destroyed && socket.readyState === 'open') return socket
      socket.destroy()
    }
    return null
  }
}

const RELEASE = Symbol('release warm socket')
type WarmSocket = Socket & { [RELEASE]?: () => void }

function ignore(): void {}
