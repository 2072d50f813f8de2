import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { ExchangeError } from '../errors.js'
import {
  type AuctionConfig,
  type Config,
  DEFAULT_DSP_TRANSPORT,
  DSP_ADAPTER_NAMES,
  DSP_MEDIA_TYPES,
  DSP_TRANSPORT_NAMES,
  type DspAdapterName,
  type DspConfig,
  type DspMediaType,
  type DspTransportName,
  type PacingConfig,
} from './config.js'

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])

/** Defaults, with units in the names. */
const DEFAULT_AUCTION: AuctionConfig = {
  defaultTmaxMs: 100,
  maxTmaxMs: 100,
  priceIncrement: 0.01,
  currency: 'USD',
  responseReserveMs: 2,
  networkBufferMs: 5,
  minDspBudgetMs: 5,
  houseSeat: 'house',
}

type Env = Readonly<Record<string, string | undefined>>
type Raw = Record<string, unknown>

/**
 * Builds the configuration from the JSON file named by EXCHANGE_CONFIG, then the environment on top.
 * Every problem is collected and reported in one ExchangeError, so an operator fixes them in one go.
 */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = []
  const file = env['EXCHANGE_CONFIG']
  let raw: Raw = {}
  if (file) {
    try {
      const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'))
      if (isObject(parsed)) raw = parsed
      else problems.push(`${file}: the config file must hold a JSON object`)
    } catch (err) {
      problems.push(`${file}: ${(err as Error).message}`)
    }
  }
  return finish(buildConfig(raw, env, file ? dirname(resolve(file)) : process.cwd(), problems), problems)
}

/** The same validation for a config given as an object (tests, embedding). */
export function configFromObject(raw: Record<string, unknown>, env: Env = {}): Config {
  const problems: string[] = []
  return finish(buildConfig(raw, { EXCHANGE_CONFIG: 'object', ...env }, process.cwd(), problems), problems)
}

function finish(config: Config, problems: string[]): Config {
  if (problems.length > 0) {
    throw new ExchangeError(
      'EX_ERR_CONFIG_INVALID',
      `invalid configuration (${problems.length} problem${problems.length > 1 ? 's' : ''}):\n  - ${problems.join('\n  - ')}`,
    )
  }
  return deepFreeze(config)
}

function buildConfig(raw: Raw, env: Env, baseDir: string, problems: string[]): Config {
  const r = new Reader(problems)
  const port = r.int(env['PORT'] ?? raw['port'], 'port', 8080, 0, 65535)
  const auctionRaw = r.object(raw['auction'], 'auction')
  const auction: AuctionConfig = {
    defaultTmaxMs: r.int(
      auctionRaw['defaultTmaxMs'],
      'auction.defaultTmaxMs',
      DEFAULT_AUCTION.defaultTmaxMs,
      1,
      10_000,
    ),
    maxTmaxMs: r.int(auctionRaw['maxTmaxMs'], 'auction.maxTmaxMs', DEFAULT_AUCTION.maxTmaxMs, 1, 10_000),
    priceIncrement: r.num(
      auctionRaw['priceIncrement'],
      'auction.priceIncrement',
      DEFAULT_AUCTION.priceIncrement,
      0,
    ),
    currency: r.str(auctionRaw['currency'], 'auction.currency', DEFAULT_AUCTION.currency, /^[A-Z]{3}$/),
    responseReserveMs: r.int(auctionRaw['responseReserveMs'], 'auction.responseReserveMs', 2, 0, 1000),
    networkBufferMs: r.int(auctionRaw['networkBufferMs'], 'auction.networkBufferMs', 5, 0, 1000),
    minDspBudgetMs: r.int(auctionRaw['minDspBudgetMs'], 'auction.minDspBudgetMs', 5, 1, 10_000),
    houseSeat: r.str(auctionRaw['houseSeat'], 'auction.houseSeat', DEFAULT_AUCTION.houseSeat, /^\S+$/),
  }
  if (auction.defaultTmaxMs > auction.maxTmaxMs)
    problems.push('auction.defaultTmaxMs must not exceed auction.maxTmaxMs')
  if (auction.responseReserveMs >= auction.maxTmaxMs)
    problems.push('auction.responseReserveMs must be below auction.maxTmaxMs')

  const overloadRaw = r.object(raw['overload'], 'overload')
  const pacingRaw = r.object(raw['pacing'], 'pacing')
  const decorationRaw = r.object(raw['decoration'], 'decoration')
  const dspsRaw = raw['dsps'] ?? []
  const dsps: DspConfig[] = []
  if (!Array.isArray(dspsRaw)) problems.push('dsps must be an array')
  else
    dspsRaw.forEach((d, i) => {
      dsps.push(readDsp(r, d, `dsps[${i}]`, auction))
    })
  const ids = new Set<string>()
  for (const d of dsps) {
    if (ids.has(d.id)) problems.push(`dsps: duplicate id "${d.id}"`)
    ids.add(d.id)
  }

  const dragonflyUrl = r.optStr(
    env['DRAGONFLY_URL'] ?? raw['dragonflyUrl'],
    'dragonflyUrl',
    /^rediss?:\/\/.+/,
  )
  const seed = r.optStr(raw['seed'], 'seed', /.+/)
  const hasFile = Boolean(env['EXCHANGE_CONFIG'])
  const workers = r.int(env['WORKERS'] ?? raw['workers'], 'workers', 1, 1, 64)
  if (workers > 1 && dragonflyUrl === null) {
    // Each worker thread would get its own embedded store: its own catalog, admin writes seen by
    // one thread only, and every campaign's budget once per thread.
    problems.push(
      'workers > 1 needs DRAGONFLY_URL: the embedded store lives in one thread and cannot be shared',
    )
  }
  return {
    port,
    host: r.str(env['HOST'] ?? raw['host'], 'host', '0.0.0.0', /^\S+$/),
    workers,
    logLevel: r.oneOf(env['LOG_LEVEL'] ?? raw['logLevel'], 'logLevel', 'info', LOG_LEVELS),
    dragonflyUrl,
    adminToken: r.optStr(
      env['ADMIN_TOKEN'] ?? raw['adminToken'],
      'adminToken',
      /^.{16,}$/,
      'at least 16 characters',
    ),
    maxBodyBytes: r.int(raw['maxBodyBytes'], 'maxBodyBytes', 256 * 1024, 1024, 16 * 1024 * 1024),
    decoration: {
      ttlMs: r.int(decorationRaw['ttlMs'], 'decoration.ttlMs', 30_000, 0, 86_400_000),
      negativeTtlMs: r.int(decorationRaw['negativeTtlMs'], 'decoration.negativeTtlMs', 5_000, 0, 86_400_000),
      maxEntries: r.int(decorationRaw['maxEntries'], 'decoration.maxEntries', 100_000, 1, 10_000_000),
      deadlineMs: r.int(decorationRaw['deadlineMs'], 'decoration.deadlineMs', 5, 1, 1_000),
      storeCommandTimeoutMs: r.int(
        decorationRaw['storeCommandTimeoutMs'],
        'decoration.storeCommandTimeoutMs',
        20,
        1,
        10_000,
      ),
    },
    pacing: readPacing(r, pacingRaw, env),
    overload: {
      maxInFlight: r.int(overloadRaw['maxInFlight'], 'overload.maxInFlight', 2_000, 1, 1_000_000),
      maxEventLoopLagMs: r.int(overloadRaw['maxEventLoopLagMs'], 'overload.maxEventLoopLagMs', 20, 1, 10_000),
    },
    auction,
    dsps,
    dspTransport: r.oneOf(
      env['DSP_TRANSPORT'] ?? raw['dspTransport'],
      'dspTransport',
      DEFAULT_DSP_TRANSPORT,
      DSP_TRANSPORTS,
    ) as DspTransportName,
    seed: seed === null ? null : resolve(baseDir, seed),
    publicUrl: r.str(
      env['PUBLIC_URL'] ?? raw['publicUrl'],
      'publicUrl',
      `http://127.0.0.1:${port}`,
      /^https?:\/\/\S+$/,
    ),
    demo: !hasFile && dragonflyUrl === null,
  }
}

function readDsp(r: Reader, value: unknown, at: string, auction: AuctionConfig): DspConfig {
  const d = r.object(value, at)
  const id = r.str(d['id'], `${at}.id`, '', /^[A-Za-z0-9_.-]{1,64}$/)
  const endpoint = r.str(d['endpoint'], `${at}.endpoint`, '', /^https?:\/\/[^/\s]+/)
  if (endpoint !== '') {
    try {
      new URL(endpoint)
    } catch {
      r.problems.push(`${at}.endpoint: not a URL`)
    }
  }
  return {
    id,
    endpoint,
    timeoutMs: r.int(d['timeoutMs'], `${at}.timeoutMs`, auction.maxTmaxMs, 1, 10_000),
    maxQps: r.int(d['maxQps'], `${at}.maxQps`, 0, 0, 10_000_000),
    connections: r.int(d['connections'], `${at}.connections`, 32, 1, 1024),
    seat: r.str(d['seat'], `${at}.seat`, id, /^\S+$/),
    gzipRequest: r.bool(d['gzipRequest'], `${at}.gzipRequest`, false),
    maxResponseBytes: r.int(
      d['maxResponseBytes'],
      `${at}.maxResponseBytes`,
      256 * 1024,
      1024,
      64 * 1024 * 1024,
    ),
    ...readDspShaping(r, d, at),
  }
}

/**
 * The optional DSP fields (adapter, targeting, exploration, keep-alive): only those present are
 * set, so a config without them reads exactly as before; their defaults apply where they are used.
 */
function readDspShaping(r: Reader, d: Raw, at: string): Partial<DspConfig> {
  const out: {
    -readonly [K in keyof DspConfig]?: DspConfig[K]
  } = {}
  if (d['adapter'] !== undefined) {
    out.adapter = r.oneOf(d['adapter'], `${at}.adapter`, 'openrtb26', DSP_ADAPTERS) as DspAdapterName
  }
  if (d['mediaTypes'] !== undefined) {
    out.mediaTypes = readList(r, d['mediaTypes'], `${at}.mediaTypes`, MEDIA_TYPE_PATTERN) as DspMediaType[]
  }
  if (d['formats'] !== undefined) {
    out.formats = readList(r, d['formats'], `${at}.formats`, /^[1-9]\d{0,4}x[1-9]\d{0,4}$/)
  }
  if (d['countries'] !== undefined)
    out.countries = readList(r, d['countries'], `${at}.countries`, /^[A-Z]{3}$/)
  if (d['dealsOnly'] !== undefined) out.dealsOnly = r.bool(d['dealsOnly'], `${at}.dealsOnly`, false)
  if (d['explorationRate'] !== undefined) {
    out.explorationRate = readShare(r, d['explorationRate'], `${at}.explorationRate`, 0.02)
  }
  if (d['keepAliveMs'] !== undefined) {
    out.keepAliveMs = r.int(d['keepAliveMs'], `${at}.keepAliveMs`, 4_000, 100, 600_000)
  }
  if (d['transport'] !== undefined) {
    out.transport = r.oneOf(
      d['transport'],
      `${at}.transport`,
      DEFAULT_DSP_TRANSPORT,
      DSP_TRANSPORTS,
    ) as DspTransportName
    // The socket transport speaks plain http; https DSPs left to the default use undici.
    if (
      out.transport === 'socket' &&
      typeof d['endpoint'] === 'string' &&
      !d['endpoint'].startsWith('http:')
    ) {
      r.problems.push(`${at}.transport: "socket" supports http:// endpoints only (use "undici" for https)`)
    }
  }
  return out
}

/** The pacing section; NOTICE_SECRET overrides the file. Without a secret, a random one per process. */
function readPacing(r: Reader, p: Raw, env: Env): PacingConfig {
  const secret = r.optStr(
    env['NOTICE_SECRET'] ?? p['noticeSecret'],
    'pacing.noticeSecret',
    /^.{16,}$/,
    'at least 16 characters',
  )
  return {
    noticeSecret: secret ?? randomBytes(32).toString('base64url'),
    isNoticeSecretGenerated: secret === null,
    leaseFraction: readShare(r, p['leaseFraction'], 'pacing.leaseFraction', 0.1),
    reservationTtlMs: r.int(p['reservationTtlMs'], 'pacing.reservationTtlMs', 300_000, 1_000, 86_400_000),
    refillIntervalMs: r.int(p['refillIntervalMs'], 'pacing.refillIntervalMs', 500, 10, 60_000),
    paceIntervalMs: r.int(p['paceIntervalMs'], 'pacing.paceIntervalMs', 2_000, 100, 600_000),
    leaseTtlMs: r.int(p['leaseTtlMs'], 'pacing.leaseTtlMs', 30_000, 1_000, 3_600_000),
    minLeaseImpressions: r.int(p['minLeaseImpressions'], 'pacing.minLeaseImpressions', 10, 1, 1_000_000),
    lastMileImpressions: r.int(p['lastMileImpressions'], 'pacing.lastMileImpressions', 2, 0, 1_000_000),
    frequencyCacheTtlMs: r.int(p['frequencyCacheTtlMs'], 'pacing.frequencyCacheTtlMs', 1_000, 0, 3_600_000),
    commitGraceMs: r.int(p['commitGraceMs'], 'pacing.commitGraceMs', 5_000, 0, 600_000),
  }
}

const DSP_ADAPTERS: ReadonlySet<string> = new Set(DSP_ADAPTER_NAMES)
const DSP_TRANSPORTS: ReadonlySet<string> = new Set(DSP_TRANSPORT_NAMES)
const MEDIA_TYPE_PATTERN = new RegExp(`^(${DSP_MEDIA_TYPES.join('|')})$`)

/** A DSP targeting list (empty = no restriction); every entry must match `pattern`. */
function readList(r: Reader, v: unknown, at: string, pattern: RegExp): string[] {
  if (!Array.isArray(v)) {
    r.problems.push(`${at} must be an array`)
    return []
  }
  const good = v.filter((x): x is string => typeof x === 'string' && pattern.test(x))
  if (good.length < v.length) {
    r.problems.push(`${at}: invalid entries ${JSON.stringify(v.filter((x) => !good.includes(x)))}`)
  }
  return good
}

/** A share from 0 to 1. */
function readShare(r: Reader, v: unknown, at: string, fallback: number): number {
  const n = r.num(v, at, fallback, 0)
  if (n <= 1) return n
  r.problems.push(`${at} must be from 0 to 1 (got ${JSON.stringify(v)})`)
  return fallback
}

/** Reads typed values, records a problem (and returns the fallback) for each bad one. */
class Reader {
  constructor(readonly problems: string[]) {}

  object(v: unknown, at: string): Raw {
    if (v === undefined) return {}
    if (isObject(v)) return v
    this.problems.push(`${at} must be an object`)
    return {}
  }

  int(v: unknown, at: string, fallback: number, min: number, max: number): number {
    if (v === undefined || v === '') return fallback
    const n = typeof v === 'string' ? Number(v) : v
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      this.problems.push(`${at} must be an integer from ${min} to ${max} (got ${JSON.stringify(v)})`)
      return fallback
    }
    return n
  }

  num(v: unknown, at: string, fallback: number, min: number): number {
    if (v === undefined || v === '') return fallback
    const n = typeof v === 'string' ? Number(v) : v
    if (typeof n !== 'number' || !Number.isFinite(n) || n < min) {
      this.problems.push(`${at} must be a number ≥ ${min} (got ${JSON.stringify(v)})`)
      return fallback
    }
    return n
  }

  bool(v: unknown, at: string, fallback: boolean): boolean {
    if (v === undefined) return fallback
    if (typeof v === 'boolean') return v
    this.problems.push(`${at} must be true or false`)
    return fallback
  }

  str(v: unknown, at: string, fallback: string, pattern: RegExp): string {
    if (v === undefined) {
      if (fallback === '') this.problems.push(`${at} is required`)
      return fallback
    }
    if (typeof v !== 'string' || !pattern.test(v)) {
      this.problems.push(`${at} is not valid (got ${JSON.stringify(v)})`)
      return fallback
    }
    return v
  }

  optStr(v: unknown, at: string, pattern: RegExp, hint = ''): string | null {
    if (v === undefined || v === '' || v === null) return null
    if (typeof v !== 'string' || !pattern.test(v)) {
      this.problems.push(`${at} is not valid${hint ? `: ${hint}` : ''}`)
      return null
    }
    return v
  }

  oneOf(v: unknown, at: string, fallback: string, allowed: ReadonlySet<string>): string {
    if (v === undefined || v === '') return fallback
    if (typeof v !== 'string' || !allowed.has(v)) {
      this.problems.push(`${at} must be one of ${[...allowed].join(', ')}`)
      return fallback
    }
    return v
  }
}

function isObject(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child)
    Object.freeze(value)
  }
  return value
}
