import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js'
import uWS from 'uWebSockets.js'
import { gunzipSync } from 'node:zlib'

/** One simulated OpenRTB 2.6 bidder: how fast it answers, how often and how much it bids. */
export interface SimulatedDspSpec {
  readonly id: string
  /** 0 = pick a free one. */
  readonly port: number
  /** Listen address; default 127.0.0.1 (0.0.0.0 in containers). */
  readonly host?: string
  /** Log-normal answer delay; median 0 = answer at once, with no timer. */
  readonly latencyMs: { readonly median: number; readonly sigma: number }
  /** Probability, 0..1, of bidding on each imp. */
  readonly bidRate: number
  /** Bid prices are drawn uniformly from this range (CPM, USD). */
  readonly priceCpm: { readonly min: number; readonly max: number }
  /** Seat id on its bids; default = id. */
  readonly seat?: string
  /** Advertiser domain on its bids; default `<id>.example`. */
  readonly adomain?: string
  /** Seed of the PRNG, for repeatable runs; default: drawn at random. */
  readonly seed?: number
  /** Base of the nurl/burl it puts in bids, as the exchange can reach it; default http://<host>:<port>. */
  readonly noticeBaseUrl?: string
}

/** Counters, updated in place; read them at any time. */
export interface SimulatedDspStats {
  /** POST /bid requests with a complete body, well-formed or not. */
  requests: number
  /** Bid objects sent (one per imp bid on). */
  bids: number
  /** 204 answers: no imp bid on. */
  noBids: number
  /** 400 (not an OpenRTB request), 413 (too large) and 415 (unknown content-encoding) answers. */
  badRequests: number
  /** Answers whose delay was longer than the request's tmax: the exchange should have dropped them. */
  lateAnswers: number
  /** Requests whose client went away before the answer. */
  aborted: number
  /** GET /win hits (nurl). */
  wins: number
  /** GET /billing hits (burl). */
  billings: number
  /** GET /impression hits (the pixel in each adm). */
  impressions: number
}

export interface RunningDsp {
  readonly id: string
  readonly port: number
  /** http://<host>:<port>/bid, with 127.0.0.1 for a wildcard host. */
  readonly url: string
  readonly stats: SimulatedDspStats
  /**
   * Stops listening and cuts the answers still waiting on their delay. Idle keep-alive connections
   * end when their client closes them (uWS has no call to close them from here; its idle timeout
   * is 10 s), so a CLI exits the process after this.
   */
  close(): Promise<void>
}

/** Three bidders for the demo: fast/frequent/cheap, medium, slow/rare/expensive. */
export const DEMO_DSPS: readonly SimulatedDspSpec[] = [
  {
    id: 'dsp-fast',
    port: 0,
    latencyMs: { median: 3, sigma: 0.3 },
    bidRate: 0.9,
    priceCpm: { min: 0.3, max: 1.2 },
    adomain: 'shoes.example',
    seed: 1,
  },
  {
    id: 'dsp-medium',
    port: 0,
    latencyMs: { median: 15, sigma: 0.4 },
    bidRate: 0.6,
    priceCpm: { min: 0.8, max: 2.5 },
    adomain: 'travel.example',
    seed: 2,
  },
  {
    id: 'dsp-slow',
    port: 0,
    latencyMs: { median: 40, sigma: 0.8 },
    bidRate: 0.2,
    priceCpm: { min: 2.5, max: 6 },
    adomain: 'cars.example',
    seed: 3,
  },
]

const MAX_BODY_BYTES = 1024 * 1024
const STATUS_204 = '204 No Content'
const STATUS_400 = '400 Bad Request'
const STATUS_413 = '413 Payload Too Large'
const STATUS_415 = '415 Unsupported Media Type'
const JSON_TYPE = 'application/json'

/** Starts one simulated DSP on uWebSockets.js; resolves once it listens. */
export function startSimulatedDsp(spec: SimulatedDspSpec): Promise<RunningDsp> {
  checkSpec(spec)
  const dsp = new SimulatedDsp(spec)
  return dsp.listen()
}

function checkSpec(spec: SimulatedDspSpec): void {
  const problems: string[] = []
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(spec.id)) problems.push('id must be 1-64 of [A-Za-z0-9_.-]')
  if (!Number.isInteger(spec.port) || spec.port < 0 || spec.port > 65535)
    problems.push('port must be 0..65535')
  if (!(spec.latencyMs.median >= 0) || !(spec.latencyMs.sigma >= 0)) problems.push('latency must be ≥ 0')
  if (!(spec.bidRate >= 0 && spec.bidRate <= 1)) problems.push('bidRate must be within 0..1')
  if (!(spec.priceCpm.min > 0 && spec.priceCpm.max >= spec.priceCpm.min))
    problems.push('need 0 < price min ≤ max')
  if (problems.length > 0) throw new Error(`simulated DSP "${spec.id}": ${problems.join('; ')}`)
}

/** mulberry32: a tiny, fast 32-bit PRNG; good enough for simulation and repeatable from its seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

class SimulatedDsp {
  readonly stats: SimulatedDspStats = {
    requests: 0,
    bids: 0,
    noBids: 0,
    badRequests: 0,
    lateAnswers: 0,
    aborted: 0,
    wins: 0,
    billings: 0,
    impressions: 0,
  }
  readonly random: () => number
  readonly seat: string
  readonly adomain: readonly string[]
  /** Answers waiting on their delay, so close() can cut them. */
  readonly delayed = new Set<PendingBid>()
  noticeBase = ''
  #app: TemplatedApp
  #listenSocket: us_listen_socket | null = null
  #bidCounter = 0

  constructor(readonly spec: SimulatedDspSpec) {
    this.random = mulberry32(spec.seed ?? Math.floor(Math.random() * 2 ** 32))
    this.seat = spec.seat ?? spec.id
    this.adomain = [spec.adomain ?? `${spec.id}.example`]
    this.#app = uWS.App()
    this.#app.post('/bid', (res, req) => this.#onBid(res, req))
    this.#app.get('/win', (res) => this.#onNotice(res, 'wins'))
    this.#app.get('/billing', (res) => this.#onNotice(res, 'billings'))
    this.#app.get('/impression', (res) => this.#onNotice(res, 'impressions'))
    this.#app.get('/healthz', (res) => void res.writeHeader('content-type', JSON_TYPE).end('{"status":"ok"}'))
    this.#app.any('/*', (res) => void res.writeStatus('404 Not Found').end())
  }

  listen(): Promise<RunningDsp> {
    const host = this.spec.host ?? '127.0.0.1'
    return new Promise((resolve, reject) => {
      this.#app.listen(host, this.spec.port, (socket) => {
        if (socket === false)
          return reject(
            new Error(`simulated DSP "${this.spec.id}" cannot listen on ${host}:${this.spec.port}`),
          )
        this.#listenSocket = socket
        const port = uWS.us_socket_local_port(socket as never)
        const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
        this.noticeBase = this.spec.noticeBaseUrl ?? `http://${reachable}:${port}`
        resolve({
          id: this.spec.id,
          port,
          url: `http://${reachable}:${port}/bid`,
          stats: this.stats,
          close: () => this.close(),
        })
      })
    })
  }

  close(): Promise<void> {
    if (this.#listenSocket !== null) uWS.us_listen_socket_close(this.#listenSocket)
    this.#listenSocket = null
    for (const pending of this.delayed) pending.cut()
    this.delayed.clear()
    return Promise.resolve()
  }

  nextBidId(): number {
    return ++this.#bidCounter
  }

  /** Log-normal delay: median·e^(σ·Z), Z standard normal by Box–Muller from the seeded PRNG. */
  drawDelayMs(): number {
    const { median, sigma } = this.spec.latencyMs
    if (median === 0) return 0
    if (sigma === 0) return median
    const u = 1 - this.random()
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.random())
    return median * Math.exp(sigma * z)
  }

  #onBid(res: HttpResponse, req: HttpRequest): void {
    const encoding = req.getHeader('content-encoding')
    const pending = new PendingBid(this, res, encoding === 'gzip')
    res.onAborted(pending.onAborted)
    if (encoding !== '' && encoding !== 'gzip' && encoding !== 'identity') {
      pending.status = STATUS_415
      pending.body = '{"error":"unsupported content-encoding"}'
      this.stats.badRequests++
      pending.writeNow()
      return
    }
    res.onData(pending.onData)
  }

  #onNotice(res: HttpResponse, counter: 'wins' | 'billings' | 'impressions'): void {
    this.stats[counter]++
    res.writeStatus(STATUS_204).end()
  }
}

/**
 * One POST /bid from arrival to answer. uWS needs an abort handler and a data handler per request;
 * those two bound fields are the only per-request functions: the delay timer gets the object as its
 * argument and corked writes go through a module-level slot.
 */
class PendingBid {
  isAborted = false
  isAnswered = false
  chunks: Buffer[] | null = null
  bytes = 0
  status = '200 OK'
  body = ''
  timer: NodeJS.Timeout | null = null
  dueAt = 0

  constructor(
    readonly dsp: SimulatedDsp,
    readonly res: HttpResponse,
    readonly isGzip: boolean,
  ) {}

  readonly onAborted = (): void => {
    this.isAborted = true
    this.dsp.stats.aborted++
    if (this.timer !== null) clearTimeout(this.timer)
    this.dsp.delayed.delete(this)
  }

  readonly onData = (chunk: ArrayBuffer, isLast: boolean): void => {
    if (this.isAnswered) return
    this.bytes += chunk.byteLength
    if (this.bytes > MAX_BODY_BYTES) return this.#reject(STATUS_413, 'body too large')
    // uWS neuters the chunk after this callback returns, so everything but a lone last chunk is copied.
    if (isLast && this.chunks === null) return this.#complete(Buffer.from(chunk))
    const copy = Buffer.from(new Uint8Array(chunk))
    if (this.chunks === null) this.chunks = [copy]
    else this.chunks.push(copy)
    if (isLast) this.#complete(Buffer.concat(this.chunks, this.bytes))
  }

  #complete(raw: Buffer): void {
    const stats = this.dsp.stats
    stats.requests++
    this.chunks = null
    let request: unknown
    try {
      request = JSON.parse(
        (this.isGzip ? gunzipSync(raw, { maxOutputLength: MAX_BODY_BYTES }) : raw).toString('utf8'),
      )
    } catch {
      return this.#reject(STATUS_400, 'malformed body')
    }
    if (!isBidRequest(request))
      return this.#reject(STATUS_400, 'not an OpenRTB BidRequest (id and imp[] required)')
    this.body = buildAnswer(this.dsp, request)
    if (this.body === '') {
      this.status = STATUS_204
      stats.noBids++
    }
    const delayMs = this.dsp.drawDelayMs()
    if (typeof request.tmax === 'number' && delayMs > request.tmax) stats.lateAnswers++
    if (delayMs <= 0) return this.writeNow()
    this.dueAt = performance.now() + delayMs
    this.dsp.delayed.add(this)
    this.timer = setTimeout(answerWhenDue, delayMs, this)
  }

  #reject(status: string, message: string): void {
    this.dsp.stats.badRequests++
    this.status = status
    this.body = JSON.stringify({ error: message })
    this.writeNow()
  }

  writeNow(): void {
    if (this.isAborted || this.isAnswered) return
    this.isAnswered = true
    corked = this
    this.res.cork(writeCorked)
    corked = null
  }

  /** Ends the answer at once (close()): the connection goes, as if the DSP restarted. */
  cut(): void {
    if (this.timer !== null) clearTimeout(this.timer)
    if (this.isAborted || this.isAnswered) return
    this.isAnswered = true
    this.res.close()
  }
}

let corked: PendingBid | null = null

function writeCorked(): void {
  const p = corked!
  const res = p.res
  if (p.status === STATUS_204) {
    res.writeStatus(STATUS_204).end()
    return
  }
  res.writeStatus(p.status).writeHeader('content-type', JSON_TYPE)
  if (p.status === '200 OK') res.writeHeader('x-openrtb-version', '2.6')
  res.end(p.body)
}

function answerWhenDue(p: PendingBid): void {
  // Node's timers run on the event loop's cached millisecond clock and may fire a little early
  // against performance.now(): wait out the rest so an answer is never faster than its draw.
  const remainingMs = p.dueAt - performance.now()
  if (remainingMs > 0) {
    p.timer = setTimeout(answerWhenDue, Math.ceil(remainingMs), p)
    return
  }
  p.timer = null
  p.dsp.delayed.delete(p)
  p.writeNow()
}

interface RequestImp {
  readonly id: string
  readonly banner?: {
    readonly w?: number
    readonly h?: number
    readonly format?: readonly { w?: number; h?: number }[]
  }
  readonly video?: { readonly w?: number; readonly h?: number }
}

interface MinimalBidRequest {
  readonly id: string
  readonly imp: readonly RequestImp[]
  readonly tmax?: unknown
}

function isBidRequest(v: unknown): v is MinimalBidRequest {
  if (typeof v !== 'object' || v === null) return false
  const r = v as { id?: unknown; imp?: unknown }
  if (typeof r.id !== 'string' || !Array.isArray(r.imp) || r.imp.length === 0) return false
  for (const imp of r.imp as unknown[]) {
    if (typeof imp !== 'object' || imp === null || typeof (imp as { id?: unknown }).id !== 'string')
      return false
  }
  return true
}

/** The BidResponse JSON, or '' when no imp was bid on. Banner and video imps only. */
function buildAnswer(dsp: SimulatedDsp, request: MinimalBidRequest): string {
  let bids = ''
  for (const imp of request.imp) {
    if (imp.banner === undefined && imp.video === undefined) continue
    if (dsp.random() >= dsp.spec.bidRate) continue
    const bid = buildBid(dsp, imp)
    bids = bids === '' ? bid : `${bids},${bid}`
    dsp.stats.bids++
  }
  if (bids === '') return ''
  return `{"id":${JSON.stringify(request.id)},"seatbid":[{"seat":${JSON.stringify(dsp.seat)},"bid":[${bids}]}],"cur":"USD"}`
}

function buildBid(dsp: SimulatedDsp, imp: RequestImp): string {
  const { min, max } = dsp.spec.priceCpm
  const price = Math.round((min + (max - min) * dsp.random()) * 10_000) / 10_000
  const n = dsp.nextBidId()
  const id = dsp.spec.id
  const isVideo = imp.banner === undefined
  const size = isVideo ? imp.video : (imp.banner?.format?.[0] ?? imp.banner)
  const creative: Creative = { dspId: id, n, w: size?.w ?? 300, h: size?.h ?? 250, base: dsp.noticeBase }
  return JSON.stringify({
    id: `${id}-${n}`,
    impid: imp.id,
    price,
    adid: `${id}-ad-${n % 10}`,
    crid: `${id}-cr-${n % 10}`,
    adomain: dsp.adomain,
    w: creative.w,
    h: creative.h,
    mtype: isVideo ? 2 : 1,
    adm: isVideo ? videoAdm(creative) : bannerAdm(creative),
    nurl: `${creative.base}/win?price=\${AUCTION_PRICE}&imp=\${AUCTION_IMP_ID}`,
    burl: `${creative.base}/billing?price=\${AUCTION_PRICE}&imp=\${AUCTION_IMP_ID}`,
  })
}

interface Creative {
  readonly dspId: string
  readonly n: number
  readonly w: number
  readonly h: number
  readonly base: string
}

/** The impression pixel carries the price macro, as real creatives do, so macro substitution shows. */
function pixelUrl(c: Creative): string {
  return `${c.base}/impression?price=\${AUCTION_PRICE}&imp=\${AUCTION_IMP_ID}`
}

function bannerAdm(c: Creative): string {
  const img = `https://cdn.${c.dspId}.example/c-${c.n % 10}-${c.w}x${c.h}.png`
  return (
    `<a href="https://${c.dspId}.example/click?imp=\${AUCTION_IMP_ID}">` +
    `<img src="${img}" width="${c.w}" height="${c.h}"></a>` +
    `<img src="${pixelUrl(c).replaceAll('&', '&amp;')}" width="1" height="1">`
  )
}

function videoAdm(c: Creative): string {
  const media = `https://cdn.${c.dspId}.example/v-${c.n % 10}.mp4`
  return (
    `<VAST version="4.0"><Ad id="${c.dspId}-${c.n}"><InLine><AdSystem>${c.dspId}</AdSystem>` +
    `<AdTitle>${c.dspId} video</AdTitle><Impression><![CDATA[${pixelUrl(c)}]]></Impression>` +
    '<Creatives><Creative><Linear><Duration>00:00:15</Duration><MediaFiles>' +
    `<MediaFile delivery="progressive" type="video/mp4" width="${c.w}" height="${c.h}"><![CDATA[${media}]]></MediaFile>` +
    '</MediaFiles></Linear></Creative></Creatives></InLine></Ad></VAST>'
  )
}
