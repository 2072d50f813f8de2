import { readdirSync } from 'node:fs'
import { Agent, get } from 'node:http'
import { connect, type Socket } from 'node:net'
import type { ThreadClocks } from './cpu-wait.js'

/**
 * Clients of the fault suite: an auction sender over raw keep-alive sockets (open loop at a set
 * rate, or closed loop), which times every answer from the moment its request is written, and a
 * billing-notice firer that keeps the books of what it fired.
 */

/** One answered (or failed) auction request. */
export interface AnswerRecord {
  /** Label of the phase the request was sent in. */
  readonly phase: string
  /** HTTP status, or 0 when the connection failed with the request in flight (or the answer did not parse). */
  readonly status: number
  /** performance.now() when the request's first byte was written. */
  readonly sentAt: number
  /** From the request's first byte written to its answer's last byte read. */
  readonly latencyMs: number
  /** Open loop: how late the request left against its schedule (waiting for a free connection). */
  readonly lagMs: number
  /** The body of a 200 answer; '' otherwise. */
  readonly body: string
  /** Status 0: what went wrong (the connection closed, or the answer could not be framed). */
  readonly failure: string
  /** `SenderOptions.clocks` read as the request was written; null without clocks. */
  readonly clocksAtSend: Float64Array | null
}

export interface SenderOptions {
  readonly port: number
  /** Keep-alive connections (one request in flight on each). */
  readonly connections: number
  /** The request body of the n-th request of the given phase. */
  readonly body: (phase: string, n: number) => string
  readonly onAnswer: (record: AnswerRecord) => void
  /** Read as each request is written (~µs), for the answer's record. */
  readonly clocks?: ThreadClocks
}

interface Pending {
  readonly phase: string
  readonly bytes: Buffer
  readonly scheduledAt: number
}

const CRLFCRLF = Buffer.from('\r\n\r\n')

/** One keep-alive connection with at most one request in flight. */
class Connection {
  socket: Socket | null = null
  isReady = false
  pending: Pending | null = null
  sentAt = 0
  clocksAtSend: Float64Array | null = null
  lastError = ''
  buffer: Buffer = Buffer.alloc(0)
  isClosed = false

  constructor(
    readonly sender: Sender,
    readonly port: number,
  ) {}

  open(): void {
    const socket = connect({ host: '127.0.0.1', port: this.port, noDelay: true })
    this.socket = socket
    socket.on('connect', () => {
      this.isReady = true
      this.sender.onIdle(this)
    })
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', (err) => {
      this.lastError = err.message
    })
    socket.on('close', () => this.onClose())
  }

  send(p: Pending): void {
    this.pending = p
    this.clocksAtSend = this.sender.clocks?.read() ?? null
    this.sentAt = performance.now()
    this.socket!.write(p.bytes)
  }

  onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk])
    for (;;) {
      const end = this.buffer.indexOf(CRLFCRLF)
      if (end < 0) return
      const head = this.buffer.toString('latin1', 0, end)
      const status = Number(head.slice(9, 12))
      const length = /\r\ncontent-length: *(\d+)/i.exec(head)
      const isClose = /\r\nconnection: *close/i.test(head)
      const bodyLength = status === 204 || status === 304 ? 0 : length ? Number(length[1]) : -1
      if (!head.startsWith('HTTP/1.1 ') || !(status >= 100) || bodyLength < 0) {
        // Unframed or unparsable: the answer is lost; count it and start over on a new connection.
        return this.fail(`unframed answer: ${JSON.stringify(head.slice(0, 120))}`)
      }
      if (this.buffer.length < end + 4 + bodyLength) return
      const body = status === 200 ? this.buffer.toString('utf8', end + 4, end + 4 + bodyLength) : ''
      this.buffer = this.buffer.subarray(end + 4 + bodyLength)
      const p = this.pending
      this.pending = null
      if (p !== null) this.sender.complete(p, status, this, body, '')
      if (isClose) {
        this.socket?.destroy()
        return
      }
      if (p !== null) this.sender.onIdle(this)
    }
  }

  fail(why: string): void {
    const p = this.pending
    this.pending = null
    if (p !== null) this.sender.complete(p, 0, this, '', why)
    this.socket?.destroy()
  }

  onClose(): void {
    const p = this.pending
    this.pending = null
    this.isReady = false
    const why = `connection closed (${this.lastError || 'by the server'}) after ${this.buffer.length} bytes of answer`
    this.buffer = Buffer.alloc(0)
    if (p !== null) this.sender.complete(p, 0, this, '', why)
    this.sender.onLost(this)
  }
}

/**
 * Sends auction requests to 127.0.0.1:port. `rate` > 0 runs an open loop (a fixed timeline; a
 * request waits in one FIFO for the first free connection, its wait reported as lag); `closed()`
 * keeps every connection busy instead. Answers go to `onAnswer` as they arrive.
 */
export class Sender {
  readonly #options: SenderOptions
  readonly #connections: Connection[] = []
  /**
   * Idle connections, least recently used first, and reused in that order: a connection left idle
   * for ~10 s is closed by the server (uWebSockets.js's idle timeout), and a request written to it
   * just then is lost (status 0) — a keep-alive race of the client's making, not the exchange's.
   */
  readonly #idle: Connection[] = []
  readonly #queue: Pending[] = []
  #phase = 'idle'
  #counter = 0
  #rate = 0
  #isClosedLoop = false
  #isStopped = false
  #timer: NodeJS.Timeout | null = null
  #startedAt = 0
  #scheduled = 0
  inFlight = 0
  sent = 0

  constructor(options: SenderOptions) {
    this.#options = options
  }

  /** Opens the connections; resolves when all are connected. */
  async start(): Promise<void> {
    for (let i = 0; i < this.#options.connections; i++) {
      const conn = new Connection(this, this.#options.port)
      this.#connections.push(conn)
      conn.open()
    }
    const giveUpAt = performance.now() + 5_000
    while (this.#connections.some((c) => !c.isReady)) {
      if (performance.now() > giveUpAt) throw new Error('sender: connections did not open')
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  }

  setPhase(phase: string): void {
    this.#phase = phase
  }

  /** Open loop at `rate` requests per second from now (0 = pause). */
  setRate(rate: number): void {
    this.#isClosedLoop = false
    this.#rate = rate
    this.#startedAt = performance.now()
    this.#scheduled = 0
    if (this.#timer === null && rate > 0) this.#timer = setInterval(this.#tick, 1)
    if (rate === 0 && this.#timer !== null) {
      clearInterval(this.#timer)
      this.#timer = null
    }
  }

  /** Closed loop: every connection sends its next request as soon as its answer is in. */
  closed(): void {
    this.setRate(0)
    this.#isClosedLoop = true
    for (const conn of this.#idle.splice(0)) this.#sendOn(conn, performance.now())
  }

  /** Stops sending; resolves once every request in flight is answered (or `drainMs` passed). */
  async stop(drainMs = 3_000): Promise<void> {
    this.setRate(0)
    this.#isClosedLoop = false
    const giveUpAt = performance.now() + drainMs
    while ((this.inFlight > 0 || this.#queue.length > 0) && performance.now() < giveUpAt) {
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  }

  /** Closes every connection (after stop()). */
  close(): void {
    this.#isStopped = true
    this.setRate(0)
    for (const c of this.#connections) c.socket?.destroy()
  }

  readonly #tick = (): void => {
    const now = performance.now()
    const interval = 1000 / this.#rate
    let due = this.#startedAt + this.#scheduled * interval
    while (due <= now) {
      const conn = this.#idle.shift()
      const p = this.#make(due)
      if (conn === undefined) this.#queue.push(p)
      else this.#dispatch(conn, p)
      due = this.#startedAt + ++this.#scheduled * interval
    }
  }

  #make(scheduledAt: number): Pending {
    const body = Buffer.from(this.#options.body(this.#phase, this.#counter++))
    const head = `POST /openrtb2/auction HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`
    return { phase: this.#phase, bytes: Buffer.concat([Buffer.from(head, 'latin1'), body]), scheduledAt }
  }

  #dispatch(conn: Connection, p: Pending): void {
    this.inFlight++
    this.sent++
    conn.send(p)
  }

  #sendOn(conn: Connection, scheduledAt: number): void {
    this.#dispatch(conn, this.#make(scheduledAt))
  }

  onIdle(conn: Connection): void {
    if (this.#isStopped) return
    const queued = this.#queue.shift()
    if (queued !== undefined) return this.#dispatch(conn, queued)
    if (this.#isClosedLoop) return this.#sendOn(conn, performance.now())
    this.#idle.push(conn)
  }

  onLost(conn: Connection): void {
    const i = this.#idle.indexOf(conn)
    if (i >= 0) this.#idle.splice(i, 1)
    if (!this.#isStopped) setTimeout(() => this.#isStopped || conn.open(), 10)
  }

  get clocks(): ThreadClocks | undefined {
    return this.#options.clocks
  }

  complete(p: Pending, status: number, conn: Connection, body: string, failure: string): void {
    this.inFlight--
    this.#options.onAnswer({
      phase: p.phase,
      status,
      sentAt: conn.sentAt,
      latencyMs: performance.now() - conn.sentAt,
      lagMs: Math.max(0, conn.sentAt - p.scheduledAt),
      body,
      failure,
      clocksAtSend: conn.clocksAtSend,
    })
  }
}

/** What became of one billing notice (one token), over every time it was fired. */
export interface NoticeBook {
  /** Times fired (a duplicate fires the same URL again). */
  fired: number
  /** Answers 204 (counted or duplicate: the exchange does not say which). */
  accepted: number
  /** Answers 503 (store unavailable), each followed by a retry. */
  retried: number
  /** performance.now() of the first 503, or 0. */
  first503At: number
  /** Any other final answer (403 forged/expired, 400, network failure after every retry). */
  readonly failures: string[]
}

export interface NotifierOptions {
  /** Base URL of the exchange: notice URLs are sent here, whatever host they name. */
  readonly base: string
  /** Share of notices fired twice: half of them at the same moment, half a little later. */
  readonly duplicateShare: number
  /** Longest random delay before the first firing. */
  readonly maxDelayMs: number
  /** 503 answers are retried this often… */
  readonly retryEveryMs: number
  /** …until this long after the first firing. */
  readonly giveUpAfterMs: number
  /** Most GETs in flight at once. */
  readonly concurrency: number
}

/**
 * Fires billing notices (a winner's `burl`) as an SSP would: after a random delay, some twice,
 * retrying 503 (store unavailable) answers as the exchange asks. Every token's fate is kept, so a
 * test can compare what the exchange counted with what was fired.
 */
export class Notifier {
  readonly books = new Map<string, NoticeBook>()
  readonly #options: NotifierOptions
  readonly #agent: Agent
  readonly #waiting: (() => void)[] = []
  #active = 0
  #outstanding = 0
  #seq = 0

  constructor(options: NotifierOptions) {
    this.#options = options
    this.#agent = new Agent({ keepAlive: true, maxSockets: options.concurrency })
  }

  /** Fires the notice at `url`, keyed by `key` (the token's unique key). */
  fire(key: string, url: string): void {
    let book = this.books.get(key)
    if (book === undefined) {
      book = { fired: 0, accepted: 0, retried: 0, first503At: 0, failures: [] }
      this.books.set(key, book)
    }
    const u = new URL(url)
    const target = `${this.#options.base}${u.pathname}${u.search}`
    const n = this.#seq++
    const delay = ((n * 7919) % 1000) / (1000 / this.#options.maxDelayMs)
    const isDuplicate = (n * 0.6180339887) % 1 < this.#options.duplicateShare
    this.#schedule(book, target, delay)
    if (isDuplicate) this.#schedule(book, target, n % 2 === 0 ? delay : delay + 50 + (n % 200))
  }

  /** Resolves once every firing has its final answer. */
  async settled(timeoutMs: number): Promise<void> {
    const giveUpAt = performance.now() + timeoutMs
    while (this.#outstanding > 0) {
      if (performance.now() > giveUpAt) throw new Error(`${this.#outstanding} notices still unanswered`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  close(): void {
    this.#agent.destroy()
  }

  #schedule(book: NoticeBook, target: string, delayMs: number): void {
    book.fired++
    this.#outstanding++
    const firstAt = performance.now() + delayMs
    const attempt = (): void => {
      this.#get(target).then((status) => {
        if (status === 204) book.accepted++
        else if (
          (status === 503 || status === 0) &&
          performance.now() - firstAt < this.#options.giveUpAfterMs
        ) {
          if (status === 503) {
            book.retried++
            if (book.first503At === 0) book.first503At = performance.now()
          }
          setTimeout(attempt, this.#options.retryEveryMs)
          return
        } else book.failures.push(status === 0 ? 'no answer' : String(status))
        this.#outstanding--
      })
    }
    setTimeout(attempt, delayMs)
  }

  async #get(url: string): Promise<number> {
    if (this.#active >= this.#options.concurrency) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve))
    }
    this.#active++
    try {
      return await new Promise<number>((resolve) => {
        const req = get(url, { agent: this.#agent, timeout: 5_000 }, (res) => {
          res.resume()
          res.on('end', () => resolve(res.statusCode ?? 0))
          res.on('error', () => resolve(0))
        })
        req.on('timeout', () => req.destroy())
        req.on('error', () => resolve(0))
      })
    } finally {
      this.#active--
      this.#waiting.shift()?.()
    }
  }
}

/**
 * Opens `count` connections to the server on `port` (process `pid`), in batches it has accepted,
 * then closes them all. The kernel grows a process's file-descriptor table as it needs more fds,
 * never shrinks it, and the growth of a multi-threaded process's table waits for an RCU grace
 * period inside accept(): 10-20 ms of an event loop blocked in the kernel (seen in the fault suite
 * when a burst opened ~200 connections at once). A server meets it once per doubling, so a suite
 * that opens hundreds of connections mid-run would charge that one-off stall to the deadlines of
 * the auctions in flight every run; growing the table first leaves the burst to measure shedding.
 */
export async function growFdTable(port: number, pid: number, count: number): Promise<void> {
  const fds = () => readdirSync(`/proc/${pid}/fd`).length
  const sockets: Socket[] = []
  const baseline = fds()
  for (let opened = 0; opened < count; ) {
    const batch = Math.min(128, count - opened)
    for (let i = 0; i < batch; i++) {
      const socket = connect({ host: '127.0.0.1', port })
      socket.on('error', () => undefined)
      sockets.push(socket)
    }
    opened += batch
    const giveUpAt = performance.now() + 5_000
    while (fds() < baseline + opened && performance.now() < giveUpAt) {
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  }
  for (const socket of sockets) socket.destroy()
}
