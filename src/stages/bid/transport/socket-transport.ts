import { connect, type Socket } from 'node:net'
import type { DspConfig } from '../../../config/config.js'
import type { CallCarrier, DspCall } from '../dsp-call.js'
import type { DspTransport, RequestHeaders } from './dsp-transport.js'
import { PARSE_DONE, PARSE_MORE, ResponseParser } from './response-parser.js'

/** Subtracted from a DSP's `keep-alive: timeout=N` hint so we never reuse a socket it is closing. */
const KEEP_ALIVE_THRESHOLD_MS = 1_000
/** The longest idle time a DSP's keep-alive hint can get us to keep a socket. */
const KEEP_ALIVE_MAX_MS = 60_000
/** Idle sockets past their keep-alive time are closed (and the warm floor refilled) this often. */
const SWEEP_MS = 1_000
/** A connection that dies this soon without an answer counts as a failed connect (backoff). */
const MIN_HEALTHY_LIFE_MS = 1_000

export interface BackoffOptions {
  /** First wait after a failed connect. */
  readonly minMs: number
  /** The wait doubles per failure up to this. */
  readonly maxMs: number
}

export const DEFAULT_BACKOFF: BackoffOptions = Object.freeze({ minMs: 50, maxMs: 5_000 })

/**
 * Every plain-TCP socket of the thread reads into this one buffer (`onread`): a read is handled
 * synchronously before the next one lands, and nothing keeps a view of it past its read. This
 * saves the allocation Node otherwise makes for every read.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024)

const CONNECTING = 0
const IDLE = 1
const BUSY = 2
const CLOSED = 3

/**
 * A purpose-built HTTP/1.1 keep-alive client for one DSP origin (plain http), on net.Socket.
 *
 * - A pool of at most `connections` persistent connections, one request in flight on each (no
 *   pipelining), grown on demand. A floor of warm connections (`warm`) is kept open and refilled
 *   after closes; idle ones are closed past their keep-alive time (`keepAliveMs`, or the DSP's
 *   `keep-alive: timeout=N` hint less a second) before the DSP may close them.
 * - A request is one `socket.write` of one Buffer: the DSP's fixed header prefix, content-length,
 *   the body.
 * - Responses are read by a small incremental parser (response-parser.ts) into a bounded body.
 * - No timer per call: the fan-out's timer gives a call up, and its connection is destroyed then (a
 *   late answer on a keep-alive connection cannot be cancelled otherwise).
 * - A request that met a connection the DSP had just closed while idle (no answer byte came back)
 *   is sent again once on a fresh connection; any other failure is the call's.
 * - Failed connects back off (50 ms doubling to 5 s, ±20%): meanwhile a call that finds no open
 *   connection fails as `network` at once instead of hammering a DSP that is down.
 */
export class SocketTransport implements DspTransport {
  readonly name = 'socket'
  /** Idle connections, the most recently used last. */
  readonly #idle: Connection[] = []
  /** Every connection not closed (connecting, idle or busy). */
  readonly #open = new Set<Connection>()
  /** Calls waiting for a connection (all `connections` busy or connecting); rare. */
  readonly #waiting: Waiting[] = []
  /** `POST <path> HTTP/1.1`, host, the fixed headers and `content-length: `, as bytes. */
  readonly prefix: Buffer
  readonly #host: string
  readonly #port: number
  readonly #maxConnections: number
  readonly #connectTimeoutMs: number
  #warmFloor = 0
  #backoffMs = 0
  /** Until then, a call finding no open connection fails at once: connects are being refused. */
  #retryAt = 0
  /** Until then, the warm floor is not refilled: connects fail, or die at once. */
  #refillAt = 0
  /** When the last failure was counted: attempts started before it do not count again. */
  #failedAt = Number.NEGATIVE_INFINITY
  #isClosed = false
  #isPumpScheduled = false
  #refillTimer: NodeJS.Timeout | null = null
  #sweepTimer: NodeJS.Timeout | null = null
  /** Idle time after which a connection without a keep-alive hint is not reused. */
  readonly keepAliveMs: number
  /** Connection events so far, for tests and benchmarks. */
  readonly stats = { opened: 0, closedByPeer: 0, closedByUs: 0, retried: 0 }

  constructor(
    readonly config: DspConfig,
    headers: RequestHeaders,
    readonly backoff: BackoffOptions = DEFAULT_BACKOFF,
  ) {
    const url = new URL(config.endpoint)
    if (url.protocol !== 'http:') throw new Error(`the socket transport speaks http only: ${config.endpoint}`)
    this.#host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
    this.#port = url.port === '' ? 80 : Number(url.port)
    this.#maxConnections = config.connections
    this.#connectTimeoutMs = Math.max(config.timeoutMs, 1_000)
    this.prefix = requestPrefix(url, headers)
    this.keepAliveMs = config.keepAliveMs ?? 4_000
  }

  get idleCount(): number {
    return this.#idle.length
  }

  /** Connections open or opening, for tests. */
  get openCount(): number {
    return this.#open.size
  }

  send(body: Buffer, call: DspCall): void {
    this.#dispatch(call, body, false)
  }

  warm(count: number): Promise<void> {
    this.#warmFloor = Math.min(count, this.#maxConnections)
    const toOpen = this.#warmFloor - this.#open.size
    if (toOpen <= 0 || this.#isClosed) return Promise.resolve()
    return new Promise((resolve) => {
      const waiter = { pending: toOpen, resolve }
      for (let i = 0; i < toOpen; i++) this.#connect().warmWaiter = waiter
    })
  }

  async close(): Promise<void> {
    this.#isClosed = true
    if (this.#sweepTimer !== null) clearInterval(this.#sweepTimer)
    if (this.#refillTimer !== null) clearTimeout(this.#refillTimer)
    this.#sweepTimer = this.#refillTimer = null
    for (const w of this.#waiting.splice(0)) w.call.fail('network')
    for (const conn of [...this.#open]) conn.shutDown()
  }

  #dispatch(call: DspCall, body: Buffer, isRetry: boolean): void {
    if (this.#isClosed) return call.fail('network')
    // A retry goes out on a fresh connection: the idle ones may be as stale as the one that failed.
    if (!isRetry || this.#open.size >= this.#maxConnections) {
      const conn = this.#takeIdle()
      if (conn !== null) return conn.start(call, body, isRetry, true)
    }
    if (this.#open.size < this.#maxConnections) {
      if (performance.now() < this.#retryAt) return call.fail('network') // backing off: the DSP is down
      return this.#connect().pend(call, body, isRetry)
    }
    this.#waiting.push({ call, body, isRetry })
    call.attach(WAITING) // given up while waiting: skipped when its turn comes
  }

  /**
   * The most recently used idle connection, unless the longest-idle one is past half its keep-alive
   * time: that one is used instead, to keep it fresh. Under steady traffic every pooled connection
   * is then reused well within its keep-alive and none ages out (no reconnect churn at peaks); under
   * light traffic the rarely used ones age out and are closed.
   */
  #takeIdle(): Connection | null {
    const idle = this.#idle
    if (idle.length === 0) return null
    const nowMs = performance.now()
    const oldest = idle[0]!
    const oldestIdleMs = nowMs - oldest.idleSince
    if (idle.length > 1 && oldestIdleMs > oldest.keepAliveMs / 2 && oldestIdleMs <= oldest.keepAliveMs) {
      idle.shift()
      return oldest
    }
    for (let conn = idle.pop(); conn !== undefined; conn = idle.pop()) {
      if (nowMs - conn.idleSince <= conn.keepAliveMs) return conn
      conn.shutDown() // idle too long: the DSP may be closing it right now
    }
    return null
  }

  #connect(): Connection {
    const conn = new Connection(this, this.#host, this.#port, this.config.maxResponseBytes, this.keepAliveMs)
    this.stats.opened++
    this.#open.add(conn)
    this.#sweepTimer ??= setInterval(sweep, SWEEP_MS, this).unref()
    conn.connectTimer = setTimeout(connectTimedOut, this.#connectTimeoutMs, conn)
    return conn
  }

  // ── Connection events ──────────────────────────────────────────────────────────────────

  /** A connection is free: the next waiting call takes it, else it joins the idle stack. */
  onIdle(conn: Connection): void {
    const waiting = this.#waiting
    while (waiting.length > 0) {
      const next = waiting.shift()!
      if (!next.call.isSettled) return conn.start(next.call, next.body, next.isRetry, false)
    }
    conn.idleSince = performance.now()
    this.#idle.push(conn)
  }

  onConnected(conn: Connection): void {
    this.#settleWarmWaiter(conn)
  }

  /**
   * A connection closed; `call` is the call it carried, if still unsettled. `failure`: the connect
   * failed (`connect`), or the DSP dropped a fresh connection without a word (`dropped`); null for
   * any other close (ours, or the DSP's after answering or idling).
   */
  onClosed(
    conn: Connection,
    isByPeer: boolean,
    failure: 'connect' | 'dropped' | null,
    call: DspCall | null,
  ): void {
    if (isByPeer) this.stats.closedByPeer++
    else this.stats.closedByUs++
    this.#open.delete(conn)
    const i = this.#idle.lastIndexOf(conn)
    if (i >= 0) this.#idle.splice(i, 1)
    this.#settleWarmWaiter(conn)
    if (failure !== null && conn.openedAt >= this.#failedAt) this.#noteFailure(failure === 'connect')
    if (call !== null) {
      if (conn.canRetry()) {
        this.stats.retried++
        this.#dispatch(call, conn.body!, true)
      } else call.fail('network')
    }
    this.#schedulePump()
  }

  /** A complete answer came back: the DSP is reachable. */
  onAnswered(): void {
    this.#backoffMs = 0
    this.#retryAt = 0
    this.#refillAt = 0
  }

  /**
   * Counted once per outage, not once per connection that was opening when it began. Refused
   * connects also fail calls at once during the backoff; connections the DSP accepts and drops
   * only slow the refill (calls still try: the DSP is there).
   */
  #noteFailure(isConnectFailure: boolean): void {
    const nowMs = performance.now()
    this.#failedAt = nowMs
    const { minMs, maxMs } = this.backoff
    this.#backoffMs = this.#backoffMs === 0 ? minMs : Math.min(this.#backoffMs * 2, maxMs)
    this.#refillAt = nowMs + this.#backoffMs * (0.8 + 0.4 * Math.random())
    if (isConnectFailure) this.#retryAt = this.#refillAt
  }

  #settleWarmWaiter(conn: Connection): void {
    const waiter = conn.warmWaiter
    if (waiter === null) return
    conn.warmWaiter = null
    if (--waiter.pending === 0) waiter.resolve()
  }

  #schedulePump(): void {
    if (this.#isPumpScheduled || this.#isClosed) return
    this.#isPumpScheduled = true
    queueMicrotask(() => this.pump())
  }

  /**
   * After a close: serve waiting calls with the freed capacity, then refill the warm floor (after
   * the backoff, when connects are failing).
   */
  pump(): void {
    this.#isPumpScheduled = false
    if (this.#isClosed) return
    const waiting = this.#waiting
    while (waiting.length > 0 && this.#open.size < this.#maxConnections) {
      const next = waiting.shift()!
      if (!next.call.isSettled) this.#dispatch(next.call, next.body, next.isRetry)
    }
    const missing = this.#warmFloor - this.#open.size
    if (missing <= 0) return
    const waitMs = this.#refillAt - performance.now()
    if (waitMs > 0) {
      this.#refillTimer ??= setTimeout(refill, waitMs, this).unref()
      return
    }
    for (let i = 0; i < missing; i++) this.#connect()
  }

  refilled(): void {
    this.#refillTimer = null
    this.pump()
  }

  /** Closes idle connections past their keep-alive time; the floor is refilled by the pump. */
  sweep(): void {
    const nowMs = performance.now()
    for (const conn of [...this.#idle]) if (nowMs - conn.idleSince > conn.keepAliveMs) conn.shutDown()
  }
}

interface Waiting {
  readonly call: DspCall
  readonly body: Buffer
  readonly isRetry: boolean
}

/** A waiting call that is given up stays in the queue, marked settled, and is skipped. */
const WAITING: CallCarrier = { abortCall() {} }

function sweep(transport: SocketTransport): void {
  transport.sweep()
}
function refill(transport: SocketTransport): void {
  transport.refilled()
}
function connectTimedOut(conn: Connection): void {
  conn.connectTimer = null
  conn.socket.destroy()
}

/** One persistent connection: at most one request in flight. */
class Connection implements CallCarrier {
  state = CONNECTING
  readonly socket: Socket
  readonly parser: ResponseParser
  readonly openedAt = performance.now()
  connectTimer: NodeJS.Timeout | null = null
  warmWaiter: { pending: number; resolve: () => void } | null = null
  idleSince = 0
  keepAliveMs: number
  /** The call in flight (or waiting for the connect). */
  call: DspCall | null = null
  /** Its request body, kept until an answer byte arrives, for one retry. */
  body: Buffer | null = null
  /** Where requests are framed; null while the last write still holds it. */
  #out: Buffer | null = null
  #isRetry = false
  /** The request went to a connection that had sat idle (the DSP may have closed it meanwhile). */
  #wasIdle = false
  /** Bytes of an answer to the current request came back. */
  #hasAnswerBytes = false
  /** Anything ever came back on this connection. */
  #hasReceived = false

  constructor(
    readonly transport: SocketTransport,
    host: string,
    port: number,
    maxResponseBytes: number,
    keepAliveMs: number,
  ) {
    this.keepAliveMs = keepAliveMs
    this.parser = new ResponseParser(maxResponseBytes)
    this.socket = connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: READ_BUFFER,
        callback: (n: number, buf: Uint8Array): boolean => {
          this.#onRead(buf as Buffer, n)
          return true
        },
      },
    })
    this.socket.on('connect', () => this.#onConnect())
    this.socket.on('error', ignore) // 'close' follows and settles what is left
    this.socket.on('end', () => this.#onEnd())
    this.socket.on('close', () => this.#onClose())
  }

  /** Carries `call` once connected. */
  pend(call: DspCall, body: Buffer, isRetry: boolean): void {
    this.call = call
    this.body = body
    this.#isRetry = isRetry
    this.#wasIdle = false
    call.attach(this)
  }

  /** Sends a request with `body` on this (connected, free) connection, in one write. */
  start(call: DspCall, body: Buffer, isRetry: boolean, wasIdle: boolean): void {
    this.state = BUSY
    this.call = call
    this.body = body
    this.#isRetry = isRetry
    this.#wasIdle = wasIdle
    this.#hasAnswerBytes = false
    this.parser.reset()
    call.attach(this)
    this.#write(body)
  }

  /**
   * One write of one Buffer: prefix, content-length, blank line, body. Framed into the
   * connection's own buffer, reused while large enough and free (its last write reached the kernel
   * at once, the usual case), so a request allocates nothing.
   */
  #write(body: Buffer): void {
    const prefix = this.transport.prefix
    const length = String(body.length)
    const headEnd = prefix.length + length.length + 4
    const size = headEnd + body.length
    let out = this.#out
    if (out === null || out.length < size) out = Buffer.allocUnsafeSlow(Math.max(size + 512, 2048))
    out.set(prefix, 0)
    for (let i = 0; i < length.length; i++) out[prefix.length + i] = length.charCodeAt(i)
    out[headEnd - 4] = 13
    out[headEnd - 3] = 10
    out[headEnd - 2] = 13
    out[headEnd - 1] = 10
    out.set(body, headEnd)
    const socket = this.socket
    socket.write(out.subarray(0, size))
    this.#out = socket.writableLength === 0 ? out : null
  }

  /** The call was given up. A pending connect goes on (the socket will be useful); a request in flight is cut. */
  abortCall(): void {
    this.call = null
    this.body = null
    if (this.state === BUSY) this.shutDown()
  }

  /** Worth sending again elsewhere: nothing came back from a connection that had been idle. */
  canRetry(): boolean {
    return this.#wasIdle && !this.#isRetry && !this.#hasAnswerBytes && this.body !== null
  }

  /** Closes the connection on our side; a call still carried fails as `network`. */
  shutDown(): void {
    if (this.state === CLOSED) return
    const call = this.call
    this.call = null
    this.body = null
    this.#closed(call, false)
    this.socket.destroy()
  }

  #closed(call: DspCall | null, isByPeer: boolean): void {
    // The DSP refused, or dropped a connection soon after opening it without a word: back off.
    let failure: 'connect' | 'dropped' | null = null
    if (isByPeer && this.state === CONNECTING) failure = 'connect'
    else if (isByPeer && !this.#hasReceived && performance.now() - this.openedAt < MIN_HEALTHY_LIFE_MS) {
      failure = 'dropped'
    }
    this.state = CLOSED
    if (this.connectTimer !== null) clearTimeout(this.connectTimer)
    this.connectTimer = null
    this.transport.onClosed(this, isByPeer, failure, call !== null && !call.isSettled ? call : null)
  }

  #onConnect(): void {
    if (this.state !== CONNECTING) return
    if (this.connectTimer !== null) clearTimeout(this.connectTimer)
    this.connectTimer = null
    this.state = IDLE
    this.transport.onConnected(this)
    const call = this.call
    if (call !== null && !call.isSettled) this.start(call, this.body!, this.#isRetry, false)
    else {
      this.call = null
      this.body = null
      this.transport.onIdle(this)
    }
  }

  #onRead(buf: Buffer, n: number): void {
    const call = this.call
    if (this.state !== BUSY || call === null) {
      // Bytes nobody asked for (one request at a time): the framing can no longer be trusted.
      this.shutDown()
      return
    }
    this.#hasAnswerBytes = true
    this.#hasReceived = true
    this.body = null
    const parser = this.parser
    const result = parser.execute(buf, 0, n)
    if (result === PARSE_MORE) return
    if (result === PARSE_DONE) return this.#answered(call, parser.end === n)
    // A failure past the status line of a non-200 is still that status (e.g. a huge error page).
    this.call = null
    this.shutDown()
    if (parser.error === 'too_large' && parser.statusCode !== 0 && parser.statusCode !== 200) {
      call.complete(parser.statusCode, null, false)
    } else call.fail(parser.error)
  }

  /** A complete response: the connection is free again (or closed), then the call settles. */
  #answered(call: DspCall, isClean: boolean): void {
    const parser = this.parser
    const status = parser.statusCode
    const body = parser.body
    const isGzip = parser.isGzip
    this.call = null
    this.transport.onAnswered()
    const hintMs = parser.keepAliveHintMs
    if (hintMs >= 0) this.keepAliveMs = Math.min(hintMs - KEEP_ALIVE_THRESHOLD_MS, KEEP_ALIVE_MAX_MS)
    if (parser.isKeepAlive && isClean && this.keepAliveMs > 0) {
      this.state = IDLE
      this.transport.onIdle(this)
    } else this.shutDown()
    // `body` may be a view of the read buffer: the call reads it now, synchronously.
    call.complete(status, body, isGzip)
  }

  /** The DSP closed its side: the end of a close-delimited body, or of the connection. */
  #onEnd(): void {
    const call = this.call
    if (this.state === BUSY && call !== null && this.#hasAnswerBytes && this.parser.finish() === PARSE_DONE) {
      this.#answered(call, false)
    }
  }

  #onClose(): void {
    if (this.state === CLOSED) return
    const call = this.call
    this.call = null
    this.#closed(call, true)
  }
}

function ignore(): void {}

/** `POST <path> HTTP/1.1`, host, the DSP's fixed headers, and `content-length: ` awaiting its value. */
function requestPrefix(url: URL, headers: RequestHeaders): Buffer {
  let head = `POST ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n`
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`
  return Buffer.from(`${head}content-length: `, 'latin1')
}
