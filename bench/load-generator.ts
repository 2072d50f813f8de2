import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'

/**
 * A lean HTTP/1.1 keep-alive load generator on raw `net` sockets, for loopback benchmarks on a
 * machine whose other core runs the server: a raw socket client costs about half the CPU per
 * request of undici (performance-baseline.md), and latency is kept in µs, not autocannon's ms.
 *
 * - closed loop: C connections, each sends its next request when the previous answer arrives;
 *   measures throughput at saturation (its latencies are mostly queueing).
 * - open loop: requests scheduled at a constant rate on a fixed timeline, sent on a pool of C
 *   connections (a request waits in one FIFO for the first free connection); latency counts from
 *   the scheduled time, so waiting for a connection is not hidden (coordinated omission).
 *
 * Bodies: one, or a rotating set (`--bodies file.jsonl`, request i carries body i mod n), so that
 * user ids and pages vary. Every `__SEQ_NUMBER__` in a body is replaced, per send, by the send
 * counter zero-padded to the same 14 characters: a key no cache has seen (content-length unchanged).
 */

export type LoadMode = 'closed' | 'open'

/** Replaced in a body, per send, by the send counter (14 digits): a value unique to that request. */
export const SEQUENCE_TOKEN = '__SEQ_NUMBER__'

export interface LoadOptions {
  /** http://127.0.0.1:PORT/path (loopback only). */
  readonly url: string
  /** One body, or several sent in rotation (request i carries body i mod n). */
  readonly body: Buffer | readonly Buffer[]
  readonly mode: LoadMode
  readonly connections: number
  readonly durationS: number
  /** Open loop only: requests per second. */
  readonly rate?: number
  /** After the duration: how long to wait for answers still due (default 2000 ms). */
  readonly drainMs?: number
  /** Default application/json. */
  readonly contentType?: string
  readonly headers?: Readonly<Record<string, string>>
  /**
   * Seconds of the same load run first and discarded (default 0): a cold generator, still in
   * V8's interpreter, falls behind an open-loop schedule and would charge its own lateness to the server.
   */
  readonly warmupS?: number
  /** Called when the measured window starts (after the warm-up and the connections). */
  readonly onMeasuring?: () => void
  /** Answers later than this many µs (from the scheduled time in open loop) are counted in `late`. */
  readonly lateThresholdUs?: number
}

export interface LatencySummary {
  readonly count: number
  readonly minUs: number
  readonly meanUs: number
  readonly p50Us: number
  readonly p90Us: number
  readonly p99Us: number
  readonly p999Us: number
  readonly maxUs: number
}

export interface LoadResult {
  readonly mode: LoadMode
  readonly connections: number
  /** Open loop: the rate asked for; closed loop: null. */
  readonly targetRate: number | null
  /** Measured window, from the first send to the end of the duration. */
  readonly durationS: number
  /** Requests written to a socket. */
  readonly sent: number
  /** Complete answers, including those that arrived during the drain. */
  readonly responses: number
  /** Answers completed inside the window, per second of window. */
  readonly throughput: number
  /** 2xx answers completed inside the window, per second of window (auctions, not shed answers). */
  readonly okThroughput: number
  readonly latency: LatencySummary
  /** Latency of the 2xx answers only (a shed 503 is fast: it would flatter the served ones). */
  readonly okLatency: LatencySummary
  /** Answers later than lateThresholdUs (null: no threshold asked), from the scheduled time. */
  readonly late: number
  /**
   * Answers later than lateThresholdUs counted from when the request was written to its socket:
   * what the server's deadline can answer for (its clock starts when the request reaches it, not
   * when a late generator meant to send it). Equal to `late` in closed loop.
   */
  readonly lateAfterSend: number
  readonly lateThresholdUs: number | null
  /** Distinct bodies sent in rotation. */
  readonly bodies: number
  /** Open loop: how late requests left against their schedule (generator or connection wait). */
  readonly sendLag: LatencySummary | null
  /** Answers by HTTP status code. */
  readonly status: Readonly<Record<string, number>>
  /** Connections that failed or closed with a request in flight, and unparseable answers. */
  readonly errors: number
  /** Open loop: scheduled but never sent by the end of the drain (the server fell behind). */
  readonly unsent: number
  /** Sent but not answered by the end of the drain. */
  readonly incomplete: number
  /** CPU the generator itself spent per answer, µs: it shares the machine with the server. */
  readonly generatorCpuUsPerResponse: number
  /** Answers during the warm-up, not counted anywhere else. */
  readonly warmupResponses: number
}

/**
 * Log-linear histogram of µs values, HDR-style: exact below 256 µs, then 128 linear sub-buckets
 * per power of two (≤ 0.8% error). Fixed memory, O(1) record; mergeable across runs.
 */
export class LatencyHistogram {
  static readonly BUCKETS = 256 + (31 - 8) * 128
  readonly counts = new Uint32Array(LatencyHistogram.BUCKETS)
  count = 0
  sumUs = 0
  minUs = Number.POSITIVE_INFINITY
  maxUs = 0

  record(us: number): void {
    const v = Math.max(us, 0)
    this.count++
    this.sumUs += v
    if (v < this.minUs) this.minUs = v
    if (v > this.maxUs) this.maxUs = v
    this.counts[bucketOf(Math.min(Math.round(v), 0x7fffffff))]!++
  }

  merge(other: LatencyHistogram): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i]!
    this.count += other.count
    this.sumUs += other.sumUs
    this.minUs = Math.min(this.minUs, other.minUs)
    this.maxUs = Math.max(this.maxUs, other.maxUs)
  }

  /** The value at quantile q (0..1): the middle of its bucket, clamped to the exact min and max. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN
    const target = Math.max(1, Math.ceil(q * this.count))
    let seen = 0
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!
      if (seen >= target) return Math.min(this.maxUs, Math.max(this.minUs, bucketMiddle(i)))
    }
    return this.maxUs
  }

  summary(): LatencySummary {
    const round = (v: number): number => Math.round(v * 10) / 10
    return {
      count: this.count,
      minUs: this.count === 0 ? Number.NaN : round(this.minUs),
      meanUs: this.count === 0 ? Number.NaN : round(this.sumUs / this.count),
      p50Us: round(this.quantile(0.5)),
      p90Us: round(this.quantile(0.9)),
      p99Us: round(this.quantile(0.99)),
      p999Us: round(this.quantile(0.999)),
      maxUs: this.count === 0 ? Number.NaN : round(this.maxUs),
    }
  }
}

function bucketOf(v: number): number {
  if (v < 256) return v
  const e = 31 - Math.clz32(v)
  return 256 + (e - 8) * 128 + ((v >>> (e - 7)) - 128)
}

function bucketMiddle(index: number): number {
  if (index < 256) return index
  const k = index - 256
  const shift = Math.floor(k / 128) + 1
  const lower = (128 + (k % 128)) * 2 ** shift
  return lower + (2 ** shift - 1) / 2
}

/** A growable FIFO of scheduled send times (open loop), without per-item allocation. */
class TimeQueue {
  #items = new Float64Array(1024)
  #head = 0
  size = 0

  push(t: number): void {
    if (this.size === this.#items.length) this.#grow()
    this.#items[(this.#head + this.size) % this.#items.length] = t
    this.size++
  }

  shift(): number {
    const t = this.#items[this.#head]!
    this.#head = (this.#head + 1) % this.#items.length
    this.size--
    return t
  }

  #grow(): void {
    const next = new Float64Array(this.#items.length * 2)
    for (let i = 0; i < this.size; i++) next[i] = this.#items[(this.#head + i) % this.#items.length]!
    this.#items = next
    this.#head = 0
  }
}

const CRLF = Buffer.from('\r\n')
const CRLFCRLF = Buffer.from('\r\n\r\n')
const MAX_HEAD_BYTES = 64 * 1024

enum ParseState {
  Head,
  Body,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
  UntilClose,
}

/** Case-insensitive match of an ASCII header name; `lower` must be lowercase. */
function isHeader(buf: Buffer, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false
  for (let i = 0; i < lower.length; i++) {
    if ((buf[start + i]! | 0x20) !== lower.charCodeAt(i)) return false
  }
  return true
}

/** One keep-alive connection: one request in flight at a time, an incremental response parser. */
class Connection {
  socket: Socket | null = null
  isBusy = false
  isConnected = false
  /** Latency origin of the request in flight: its scheduled time (open) or send time (closed). */
  startedAt = 0
  /** When the request in flight was written to the socket. */
  sentAt = 0
  state = ParseState.Head
  leftover: Buffer | null = null
  remaining = 0
  status = 0
  contentLength = -1
  isChunked = false
  closeAfter = false

  constructor(readonly run: LoadRun) {}

  open(): void {
    const socket = connect({ host: this.run.host, port: this.run.port, noDelay: true })
    this.socket = socket
    socket.on('connect', this.onConnect)
    socket.on('data', this.onData)
    socket.on('error', this.onError)
    socket.on('close', this.onClose)
  }

  send(startedAt: number): void {
    this.isBusy = true
    this.startedAt = startedAt
    this.sentAt = performance.now()
    this.run.sent++
    this.socket!.write(this.run.nextRequest())
  }

  readonly onConnect = (): void => {
    this.isConnected = true
    this.run.onReady(this)
  }

  readonly onError = (): void => {
    // 'close' follows every 'error'; counting happens there.
  }

  readonly onClose = (): void => {
    if (this.run.isFinished) return
    // A response framed by the connection's end completes now; any other request in flight is lost.
    const wasConnected = this.isConnected
    if (this.isBusy && this.state === ParseState.UntilClose) this.#complete()
    else if (this.isBusy || !wasConnected) this.run.errors++
    this.isBusy = false
    this.isConnected = false
    this.#resetParser()
    this.socket = null
    this.run.onConnectionLost(this, wasConnected)
  }

  readonly onData = (chunk: Buffer): void => {
    let buf = chunk
    if (this.leftover !== null) {
      buf = Buffer.concat([this.leftover, chunk])
      this.leftover = null
    }
    let off = 0
    while (off < buf.length) {
      const next = this.#step(buf, off)
      if (next < 0) {
        this.leftover = buf.subarray(off)
        if (this.leftover.length > MAX_HEAD_BYTES) this.#fail()
        return
      }
      off = next
    }
  }

  /** Parses from `off`; returns the next offset, or -1 when more bytes are needed. */
  #step(buf: Buffer, off: number): number {
    switch (this.state) {
      case ParseState.Head:
        return this.#head(buf, off)
      case ParseState.Body: {
        const n = Math.min(this.remaining, buf.length - off)
        this.remaining -= n
        if (this.remaining === 0) this.#complete()
        return off + n
      }
      case ParseState.ChunkSize: {
        const eol = buf.indexOf(CRLF, off)
        if (eol < 0) return -1
        const size = Number.parseInt(buf.toString('latin1', off, eol), 16)
        if (!Number.isFinite(size)) return this.#fail()
        this.remaining = size
        this.state = size === 0 ? ParseState.Trailers : ParseState.ChunkData
        return eol + 2
      }
      case ParseState.ChunkData: {
        const n = Math.min(this.remaining, buf.length - off)
        this.remaining -= n
        if (this.remaining === 0) {
          this.state = ParseState.ChunkEnd
          this.remaining = 2
        }
        return off + n
      }
      case ParseState.ChunkEnd: {
        const n = Math.min(this.remaining, buf.length - off)
        this.remaining -= n
        if (this.remaining === 0) this.state = ParseState.ChunkSize
        return off + n
      }
      case ParseState.Trailers: {
        const eol = buf.indexOf(CRLF, off)
        if (eol < 0) return -1
        if (eol === off) this.#complete()
        return eol + 2
      }
      case ParseState.UntilClose:
        return buf.length
    }
  }

  #head(buf: Buffer, off: number): number {
    const end = buf.indexOf(CRLFCRLF, off)
    if (end < 0) return -1
    if (buf[off] !== 0x48 || buf[off + 8] !== 0x20) return this.#fail() // "HTTP/1.x "
    this.status = (buf[off + 9]! - 48) * 100 + (buf[off + 10]! - 48) * 10 + (buf[off + 11]! - 48)
    this.contentLength = -1
    this.isChunked = false
    this.closeAfter = buf[off + 7] === 0x30 // HTTP/1.0
    this.#headers(buf, buf.indexOf(CRLF, off) + 2, end + 2)
    const next = end + 4
    if (this.status < 200) return next // 100 Continue and friends: the real answer follows
    if (this.status === 204 || this.status === 304 || this.contentLength === 0) {
      this.#complete()
    } else if (this.isChunked) {
      this.state = ParseState.ChunkSize
    } else if (this.contentLength > 0) {
      this.state = ParseState.Body
      this.remaining = this.contentLength
    } else {
      this.state = ParseState.UntilClose
      this.closeAfter = true
    }
    return next
  }

  /** Reads only the three headers that frame the answer. */
  #headers(buf: Buffer, start: number, end: number): void {
    let line = start
    while (line < end) {
      const eol = buf.indexOf(CRLF, line)
      const colon = buf.indexOf(0x3a, line)
      if (colon > line && colon < eol) {
        if (isHeader(buf, line, colon, 'content-length')) {
          this.contentLength = Number.parseInt(buf.toString('latin1', colon + 1, eol).trim(), 10)
        } else if (isHeader(buf, line, colon, 'transfer-encoding')) {
          this.isChunked = buf
            .toString('latin1', colon + 1, eol)
            .toLowerCase()
            .includes('chunked')
        } else if (isHeader(buf, line, colon, 'connection')) {
          this.closeAfter = buf
            .toString('latin1', colon + 1, eol)
            .toLowerCase()
            .includes('close')
        }
      }
      line = eol + 2
    }
  }

  #complete(): void {
    const now = performance.now()
    this.state = ParseState.Head
    this.isBusy = false
    this.run.onResponse(this, this.status, now)
    if (this.closeAfter) this.socket?.destroy()
  }

  #fail(): number {
    this.run.errors++
    this.isBusy = false
    this.socket?.destroy()
    return Number.MAX_SAFE_INTEGER
  }

  #resetParser(): void {
    this.state = ParseState.Head
    this.leftover = null
    this.remaining = 0
  }
}

/** One run of the generator; `runLoad` is its only entry. */
class LoadRun {
  readonly host: string
  readonly port: number
  readonly templates: readonly RequestTemplate[]
  readonly latency = new LatencyHistogram()
  readonly okLatency = new LatencyHistogram()
  readonly sendLag = new LatencyHistogram()
  readonly status = new Map<number, number>()
  readonly queue = new TimeQueue()
  readonly idle: Connection[] = []
  readonly connections: Connection[] = []
  sent = 0
  responses = 0
  inWindow = 0
  okInWindow = 0
  late = 0
  lateAfterSend = 0
  errors = 0
  isFinished = false
  isStopping = false
  incomplete = 0
  startAt = 0
  endAt = 0
  #scheduled = 0
  #intervalMs = 0
  #ready = 0
  #onStarted: (() => void) | null = null
  #onStartFailed: ((err: Error) => void) | null = null
  #onDone: (() => void) | null = null
  #drainTimer: NodeJS.Timeout | null = null
  #nextTemplate = 0
  #sequence = 0
  readonly #lateUs: number

  constructor(readonly options: LoadOptions) {
    const url = new URL(options.url)
    if (url.protocol !== 'http:') throw new Error(`load generator: only http:// URLs (got ${options.url})`)
    if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') {
      throw new Error(`load generator: loopback only, 127.0.0.1 (got ${url.hostname})`)
    }
    this.host = '127.0.0.1'
    this.port = Number(url.port || 80)
    const bodies = Buffer.isBuffer(options.body) ? [options.body] : (options.body as readonly Buffer[])
    if (bodies.length === 0) throw new Error('load generator: no body to send')
    this.templates = bodies.map((b) => buildTemplate(url, options, b))
    this.#lateUs = options.lateThresholdUs ?? Number.POSITIVE_INFINITY
    if (options.mode === 'open' && !(options.rate !== undefined && options.rate > 0)) {
      throw new Error('load generator: open loop needs a rate > 0')
    }
  }

  /** Opens every connection, then runs; resolves when the duration and the drain are over. */
  async start(): Promise<Omit<LoadResult, 'warmupResponses'>> {
    await new Promise<void>((resolve, reject) => {
      this.#onStarted = resolve
      this.#onStartFailed = reject
      for (let i = 0; i < this.options.connections; i++) {
        const conn = new Connection(this)
        this.connections.push(conn)
        conn.open()
      }
    })
    this.options.onMeasuring?.()
    const cpuBefore = process.cpuUsage()
    await new Promise<void>((resolve) => {
      this.#onDone = resolve
      this.#begin()
    })
    const cpu = process.cpuUsage(cpuBefore)
    return this.#result((cpu.user + cpu.system) / Math.max(1, this.responses))
  }

  onReady(conn: Connection): void {
    if (this.#onStarted !== null) {
      this.idle.push(conn)
      if (++this.#ready === this.options.connections) {
        const started = this.#onStarted
        this.#onStarted = null
        this.#onStartFailed = null
        started()
      }
      return
    }
    this.#next(conn)
  }

  /** A server that closed a connection gets a new one at once; one that refused it, after a pause. */
  onConnectionLost(conn: Connection, wasConnected: boolean): void {
    const i = this.idle.indexOf(conn)
    if (i >= 0) this.idle.splice(i, 1)
    if (this.#onStartFailed !== null) return this.#failStart()
    if (this.isFinished) return
    if (wasConnected) conn.open()
    else setTimeout(() => this.isFinished || conn.open(), 20).unref()
    this.#checkDone()
  }

  /** Any connection lost before all are open: the server is not there; give up at once. */
  #failStart(): void {
    const fail = this.#onStartFailed!
    this.#onStarted = null
    this.#onStartFailed = null
    this.isFinished = true
    for (const c of this.connections) c.socket?.destroy()
    fail(new Error(`cannot connect to ${this.host}:${this.port}`))
  }

  /** The bytes of the next request: bodies in rotation, sequence tokens filled in. */
  nextRequest(): Buffer {
    const t = this.templates[this.#nextTemplate]!
    this.#nextTemplate = (this.#nextTemplate + 1) % this.templates.length
    if (t.sequenceOffsets.length === 0) return t.bytes
    // A copy: the socket may still hold the previous write of this template by reference.
    const bytes = Buffer.from(t.bytes)
    const digits = String(this.#sequence++ % 1e14).padStart(SEQUENCE_TOKEN.length, '0')
    for (const offset of t.sequenceOffsets) bytes.write(digits, offset, 'latin1')
    return bytes
  }

  onResponse(conn: Connection, status: number, now: number): void {
    this.responses++
    const isOk = status >= 200 && status < 300
    if (now <= this.endAt) {
      this.inWindow++
      if (isOk) this.okInWindow++
    }
    const us = (now - conn.startedAt) * 1000
    this.latency.record(us)
    if (isOk) this.okLatency.record(us)
    if (us > this.#lateUs) this.late++
    if ((now - conn.sentAt) * 1000 > this.#lateUs) this.lateAfterSend++
    this.status.set(status, (this.status.get(status) ?? 0) + 1)
    if (!conn.closeAfter) this.#next(conn)
  }

  /** A free connection takes the next request: at once (closed), or the oldest queued one (open). */
  #next(conn: Connection): void {
    if (this.isFinished) return
    if (this.options.mode === 'closed') {
      if (!this.isStopping) conn.send(performance.now())
      else this.#checkDone()
      return
    }
    if (this.queue.size > 0) {
      const scheduled = this.queue.shift()
      this.sendLag.record((performance.now() - scheduled) * 1000)
      conn.send(scheduled)
    } else {
      this.idle.push(conn)
      if (this.isStopping) this.#checkDone()
    }
  }

  #begin(): void {
    this.startAt = performance.now()
    this.endAt = this.startAt + this.options.durationS * 1000
    if (this.options.mode === 'closed') {
      setTimeout(() => this.#stop(), this.options.durationS * 1000)
      for (const conn of this.idle.splice(0)) conn.send(performance.now())
      return
    }
    // Open loop: the scheduler itself stops once the whole timeline is dispatched, so a late
    // timer cannot cut off the last scheduled requests.
    this.#intervalMs = 1000 / this.options.rate!
    this.#tick()
  }

  /**
   * Open-loop scheduler. Node's timers have 1 ms granularity, which would shift sub-ms latencies:
   * within 2 ms of the next send it polls with setImmediate (I/O is still served between polls).
   */
  readonly #tick = (): void => {
    const now = performance.now()
    let due = this.startAt + this.#scheduled * this.#intervalMs
    while (due <= now && due < this.endAt) {
      this.#dispatch(due, now)
      due = this.startAt + ++this.#scheduled * this.#intervalMs
    }
    if (due >= this.endAt) return this.#stop()
    const waitMs = due - performance.now()
    if (waitMs > 2) setTimeout(this.#tick, waitMs - 1.5)
    else setImmediate(this.#tick)
  }

  #dispatch(scheduled: number, now: number): void {
    const conn = this.idle.pop()
    if (conn === undefined) {
      this.queue.push(scheduled)
      return
    }
    this.sendLag.record((now - scheduled) * 1000)
    conn.send(scheduled)
  }

  #stop(): void {
    this.isStopping = true
    this.#drainTimer = setTimeout(() => this.#finish(), this.options.drainMs ?? 2000)
    this.#checkDone()
  }

  #checkDone(): void {
    if (!this.isStopping || this.isFinished) return
    if (this.queue.size > 0) return
    for (const c of this.connections) if (c.isBusy) return
    this.#finish()
  }

  #finish(): void {
    if (this.isFinished) return
    this.isFinished = true
    if (this.#drainTimer !== null) clearTimeout(this.#drainTimer)
    this.incomplete = this.connections.filter((c) => c.isBusy).length
    for (const c of this.connections) c.socket?.destroy()
    this.#onDone?.()
  }

  #result(generatorCpuUsPerResponse: number): Omit<LoadResult, 'warmupResponses'> {
    const windowS = (this.endAt - this.startAt) / 1000
    return {
      mode: this.options.mode,
      connections: this.options.connections,
      targetRate: this.options.mode === 'open' ? (this.options.rate ?? null) : null,
      durationS: Math.round(windowS * 1000) / 1000,
      sent: this.sent,
      responses: this.responses,
      throughput: Math.round(this.inWindow / windowS),
      okThroughput: Math.round(this.okInWindow / windowS),
      latency: this.latency.summary(),
      okLatency: this.okLatency.summary(),
      late: this.late,
      lateAfterSend: this.lateAfterSend,
      lateThresholdUs: Number.isFinite(this.#lateUs) ? this.#lateUs : null,
      bodies: this.templates.length,
      sendLag: this.options.mode === 'open' ? this.sendLag.summary() : null,
      status: Object.fromEntries(
        [...this.status].sort((a, b) => a[0] - b[0]).map(([k, v]) => [String(k), v]),
      ),
      errors: this.errors,
      unsent: this.queue.size,
      incomplete: this.incomplete,
      generatorCpuUsPerResponse: Math.round(generatorCpuUsPerResponse * 10) / 10,
    }
  }
}

/** A request as bytes, and where its sequence tokens are (filled in per send). */
interface RequestTemplate {
  readonly bytes: Buffer
  readonly sequenceOffsets: readonly number[]
}

function buildTemplate(url: URL, options: LoadOptions, body: Buffer): RequestTemplate {
  const lines = [
    `POST ${url.pathname}${url.search} HTTP/1.1`,
    `host: ${url.host}`,
    `content-type: ${options.contentType ?? 'application/json'}`,
    `content-length: ${body.length}`,
    ...Object.entries(options.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
  ]
  const bytes = Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body])
  const sequenceOffsets: number[] = []
  for (let at = bytes.indexOf(SEQUENCE_TOKEN); at >= 0; at = bytes.indexOf(SEQUENCE_TOKEN, at + 1)) {
    sequenceOffsets.push(at)
  }
  return { bytes, sequenceOffsets }
}

/** Bodies of a JSONL file: one request body per non-empty line, sent in rotation. */
export function readBodies(path: string): Buffer[] {
  const bodies = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => Buffer.from(l.trim()))
  if (bodies.length === 0) throw new Error(`${path}: no bodies (one JSON body per line)`)
  return bodies
}

/** Runs one bounded load against a loopback URL. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  if (!(options.connections >= 1) || !(options.durationS > 0)) {
    throw new Error('load generator: need connections ≥ 1 and duration > 0')
  }
  const warmupS = options.warmupS ?? 0
  let warmupResponses = 0
  if (warmupS > 0) {
    const { onMeasuring: _, ...rest } = options
    warmupResponses = (await new LoadRun({ ...rest, durationS: warmupS, drainMs: 200 }).start()).responses
  }
  return { ...(await new LoadRun(options).start()), warmupResponses }
}

/** A short human summary of a result. */
export function formatResult(r: LoadResult): string {
  const ms = (us: number): string => (us / 1000).toFixed(3)
  const l = r.latency
  const lines = [
    `${r.mode} loop, ${r.connections} connections${r.targetRate === null ? '' : `, ${r.targetRate} req/s asked`}, ${r.durationS} s`,
    `  throughput ${r.throughput} req/s (2xx ${r.okThroughput}); ${r.responses} answers, status ${JSON.stringify(r.status)}, errors ${r.errors}, unsent ${r.unsent}, incomplete ${r.incomplete}`,
    `  latency ms: p50 ${ms(l.p50Us)}  p90 ${ms(l.p90Us)}  p99 ${ms(l.p99Us)}  p99.9 ${ms(l.p999Us)}  max ${ms(l.maxUs)}`,
  ]
  if (r.lateThresholdUs !== null) {
    lines.push(`  later than ${ms(r.lateThresholdUs)} ms: ${r.late} (from sending: ${r.lateAfterSend})`)
  }
  if (r.sendLag !== null) lines.push(`  send lag ms: p50 ${ms(r.sendLag.p50Us)}  p99 ${ms(r.sendLag.p99Us)}`)
  lines.push(`  generator CPU ${r.generatorCpuUsPerResponse} µs/answer`)
  return lines.join('\n')
}

/** Printed (with --json) when the measured window starts, before the result line. */
export const MEASURING_LINE = '# measuring'

const USAGE = `usage: node dist/bench/load-generator.js --url http://127.0.0.1:PORT/openrtb2/auction
  (--body FILE | --bodies FILE.jsonl) [--mode closed|open] [--connections 64] [--duration 10]
  [--rate R (open)] [--warmup 0] [--drain-ms 2000] [--late-ms MS] [--header 'name: value']...
  [--content-type application/json] [--json]
  --bodies: one body per line, sent in rotation; ${SEQUENCE_TOKEN} in a body becomes a per-send number`

async function cli(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      body: { type: 'string' },
      bodies: { type: 'string' },
      'late-ms': { type: 'string' },
      mode: { type: 'string', default: 'closed' },
      connections: { type: 'string', default: '64' },
      duration: { type: 'string', default: '10' },
      rate: { type: 'string' },
      'drain-ms': { type: 'string', default: '2000' },
      warmup: { type: 'string', default: '0' },
      header: { type: 'string', multiple: true, default: [] },
      'content-type': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (values.url === undefined || (values.body === undefined) === (values.bodies === undefined))
    throw new Error(`--url and one of --body or --bodies are required\n${USAGE}`)
  if (values.mode !== 'closed' && values.mode !== 'open')
    throw new Error(`--mode must be closed or open\n${USAGE}`)
  const headers: Record<string, string> = {}
  for (const h of values.header) {
    const colon = h.indexOf(':')
    if (colon <= 0) throw new Error(`--header must be 'name: value' (got ${h})`)
    headers[h.slice(0, colon).trim()] = h.slice(colon + 1).trim()
  }
  const result = await runLoad({
    url: values.url,
    body: values.bodies === undefined ? readFileSync(values.body!) : readBodies(values.bodies),
    mode: values.mode,
    connections: Number(values.connections),
    durationS: Number(values.duration),
    drainMs: Number(values['drain-ms']),
    warmupS: Number(values.warmup),
    headers,
    // With --json a parent process is reading: tell it when the measured window starts.
    ...(values.json ? { onMeasuring: () => console.log(MEASURING_LINE) } : {}),
    ...(values.rate === undefined ? {} : { rate: Number(values.rate) }),
    ...(values['late-ms'] === undefined ? {} : { lateThresholdUs: Number(values['late-ms']) * 1000 }),
    ...(values['content-type'] === undefined ? {} : { contentType: values['content-type'] }),
  })
  console.log(values.json ? JSON.stringify(result) : formatResult(result))
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  cli().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`load-generator: ${(err as Error).message}`)
      process.exit(2)
    },
  )
}
