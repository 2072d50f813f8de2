import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { cpus, loadavg, release, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { DEMO_DSPS, type SimulatedDspSpec } from '../src/demo/simulated-dsp.js'
import { type RedisServer, redisAvailable, startRedisServer } from '../src/testing/redis-server.js'
import { type LoadResult, MEASURING_LINE } from './load-generator.js'
import {
  type CoreSample,
  coreBusyShare,
  cpuUsPerRequest,
  findKernelThread,
  type ProcessSample,
  readCoreSamples,
  readProcessSample,
  usageBetween,
} from './process-stats.js'
import {
  findStalls,
  formatGc,
  formatProfile,
  formatStalls,
  type GcPauses,
  type ProfileSummary,
  type StallSummary,
  summarizeGcTrace,
  summarizeProfile,
} from './profile.js'
import {
  type Child,
  freePort,
  hasTaskset,
  killAllNow,
  launch,
  monotonicUs,
  onKillAll,
  pin,
  stop,
  stopAll,
  waitForLines,
  waitForQuiet,
  waitForStatus200,
} from './scenarios/processes.js'
import { gauge, type Samples, scrapeMetrics } from './scenarios/prometheus-text.js'
import {
  exchangeView,
  type MachineInfo,
  type Measurement,
  type RunOptions,
  report,
  type ScenarioResult,
  table,
} from './scenarios/report.js'
import {
  type Audience,
  benchCampaign,
  buildWorkload,
  type Workload,
  type WorkloadSpec,
} from './scenarios/workload.js'
import { type SoakSample, sampleSoak, soakTable, soakVerdict } from './soak.js'

/**
 * `npm run bench`: each scenario in its own processes on loopback: the server pinned to core 0;
 * simulated DSPs, redis-server (Dragonfly's stand-in) and the load generator on core 1 (when
 * taskset exists and there are ≥ 2 cores). Per scenario: warm-up, a closed loop at saturation
 * (throughput, latency, server CPU µs/request from /proc, RSS, the exchange's own /metrics), then
 * open loops at shares of that throughput (latency without coordinated omission). Ratios are taken
 * against the ceiling measured in the same run. `--soak` and `--profile` are modes of their own.
 */

// ---------------------------------------------------------------------------------------------
// Scenarios: data. Adding one is one line with the helpers below.

type ServerSpec =
  | { readonly kind: 'bare'; readonly mode: 'canned' | 'json' }
  | {
      readonly kind: 'exchange'
      /** Extra environment (e.g. WORKERS). */
      readonly env: Readonly<Record<string, string>>
      /** Merged (one level deep) over BENCH_CONFIG and the generated config file. */
      readonly config: Readonly<Record<string, unknown>>
      /** taskset core list for the server; default "0". */
      readonly cores: string
      /** Start a redis-server for it (DRAGONFLY_URL); else the embedded store. */
      readonly redis: boolean
      /** Added to every DSP entry of the config (e.g. connections). */
      readonly dspSettings: Readonly<Record<string, unknown>>
    }

/** A DSP of a scenario; its port is assigned at run time. */
type DspTemplate = Omit<SimulatedDspSpec, 'port' | 'host'>

interface Scenario {
  readonly name: string
  readonly about: string
  /** Part of a run without --scenario. */
  readonly isDefault: boolean
  readonly server: ServerSpec
  readonly dsps: readonly DspTemplate[]
  readonly workload: WorkloadSpec
  /** Load generator connections (closed loop: concurrency; open loop: the pool). */
  readonly connections: number
  /** Open loops, as shares of the closed loop's 2xx throughput. */
  readonly loads: readonly number[]
  /** Take the saturation of this scenario (when it ran earlier in the run) instead of a closed loop. */
  readonly saturationFrom: string | null
  /** Count answers later than this many ms (overload). */
  readonly lateMs: number | null
  /** Connections of its own closed loop when they differ from `connections` (overload-3x). */
  readonly closedConnections: number | null
}

const BANNER: WorkloadSpec = {
  kind: 'banner',
  request: 'banner-2imp.json',
  ads: 8,
  audience: null,
  withCampaigns: false,
}

/** Users, pages, domains, publishers known to the seed; 5% of requests from a user seen once. */
const AUDIENCE: Audience = {
  users: 20,
  pages: 10,
  domains: 5,
  publishers: 3,
  uniqueUserShare: 0.05,
  stripKeys: false,
}

const CATALOG_10K = { kind: 'catalog', ads: 10_000, bodies: 200, users: 50 } as const

/**
 * Every exchange scenario runs with this over its config: the event-loop-lag shedder raised from
 * the default 20 ms to 1 s, so that saturation measures the exchange rather than the shedder (non-2xx answers
 * are reported regardless), and unbilled house-ad reservations released after 10 s instead of 5 min
 * (the load generator sends no billing notices; a short run should reach steady state).
 * overload-3x and shed set their own overload settings.
 */
const BENCH_CONFIG: Readonly<Record<string, Record<string, unknown>>> = {
  overload: { maxEventLoopLagMs: 1000 },
  pacing: { reservationTtlMs: 10_000 },
}

/**
 * 128 pooled connections per DSP instead of the default 32: the shaper skips a DSP whose
 * connections are all busy (`in_flight`), and with 64 auctions in flight and answers waiting in the
 * exchange's own event loop, 32 connections per DSP skip most calls at saturation, so the scenario
 * would stop measuring the fan-out. (The demo keeps its 16.)
 */
const BENCH_DSP_SETTINGS = { connections: 128 }

/** The production overload settings (config defaults): what overload-3x measures. */
const DEFAULT_OVERLOAD = { overload: { maxInFlight: 2000, maxEventLoopLagMs: 20 } }

const OPEN_SHARES = [0.25, 0.5, 0.75] as const

function bare(name: string, about: string, mode: 'canned' | 'json', isDefault: boolean): Scenario {
  return {
    name,
    about,
    isDefault,
    server: { kind: 'bare', mode },
    dsps: [],
    workload: BANNER,
    connections: 64,
    loads: OPEN_SHARES,
    saturationFrom: null,
    lateMs: null,
    closedConnections: null,
  }
}

interface ExchangeOptions {
  readonly dsps?: readonly DspTemplate[]
  readonly env?: Readonly<Record<string, string>>
  readonly config?: Readonly<Record<string, unknown>>
  readonly cores?: string
  readonly redis?: boolean
  readonly dspSettings?: Readonly<Record<string, unknown>>
  readonly workload?: WorkloadSpec
  readonly connections?: number
  readonly loads?: readonly number[]
  readonly saturationFrom?: string
  readonly lateMs?: number
  readonly closedConnections?: number
  readonly isDefault?: boolean
}

function exchange(name: string, about: string, o: ExchangeOptions = {}): Scenario {
  return {
    name,
    about,
    isDefault: o.isDefault ?? false,
    server: {
      kind: 'exchange',
      env: o.env ?? {},
      config: o.config ?? {},
      cores: o.cores ?? '0',
      redis: o.redis ?? false,
      dspSettings: o.dspSettings ?? BENCH_DSP_SETTINGS,
    },
    dsps: o.dsps ?? instantBidders(3),
    workload: o.workload ?? BANNER,
    connections: o.connections ?? 64,
    loads: o.loads ?? OPEN_SHARES,
    saturationFrom: o.saturationFrom ?? null,
    lateMs: o.lateMs ?? null,
    closedConnections: o.closedConnections ?? null,
  }
}

/** DSPs that answer at once and always bid: the exchange's own cost, not the DSPs' latency. */
function instantBidders(n: number): DspTemplate[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `dsp-${i + 1}`,
    latencyMs: { median: 0, sigma: 0 },
    bidRate: 1,
    priceCpm: { min: 0.5, max: 2.5 },
    seed: i + 1,
  }))
}

/** DSPs with log-normal latencies, medians spread from 5 to 30 ms, bidding half the time. */
function lognormalBidders(n: number): DspTemplate[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `dsp-${i + 1}`,
    latencyMs: { median: 5 + (25 * i) / Math.max(1, n - 1), sigma: 0.5 },
    bidRate: 0.5,
    priceCpm: { min: 0.5, max: 3 },
    seed: i + 1,
  }))
}

/**
 * DSPs that hold every auction for 60 ms and then answer in time. (DSPs that never answer would
 * open the circuit breakers: the exchange would stop calling them and its auctions would end at
 * once, leaving nothing in flight to shed against.)
 */
function slowBidders(n: number): DspTemplate[] {
  return instantBidders(n).map((d) => ({ ...d, latencyMs: { median: 60, sigma: 0 } }))
}

/** The three demo DSPs of `npm start` (fast/medium/slow), in their own process here. */
const DEMO_BIDDERS: DspTemplate[] = DEMO_DSPS.map(({ port: _p, host: _h, ...d }) => d)

const FULL_PATH: ExchangeOptions = {
  redis: true,
  workload: { ...CATALOG_10K, withCampaigns: true },
}

export const SCENARIOS: readonly Scenario[] = [
  bare('ceiling', 'bare uWS: reads the body, answers a canned ~600 B BidResponse', 'canned', true),
  bare('json', 'bare uWS + JSON.parse of the request + JSON.stringify of a response', 'json', false),
  exchange('exchange', 'the exchange: 3 DSPs answering at once, 8 house ads, embedded store', {
    isDefault: true,
  }),
  exchange('demo', "npm start's path: demo seed, the 3 demo DSPs (3/15/40 ms), connections 16", {
    dsps: DEMO_BIDDERS,
    dspSettings: { connections: 16 },
    workload: { kind: 'demo' },
    connections: 256,
  }),
  // On the redis store: with the embedded store, a 10k-ad seed does not start (bench/README.md).
  exchange('exchange-10k-ads', '10,000 generated ads and their filter rules, generated traffic, redis', {
    redis: true,
    workload: { ...CATALOG_10K, withCampaigns: false },
  }),
  exchange(
    'exchange-10dsp',
    '10 DSPs, log-normal latency (medians 5-30 ms, sigma 0.5), bidding half the time',
    {
      dsps: lognormalBidders(10),
      // Enough to cover the DSPs' latency at the exchange's capacity, not so many that auctions
      // queue in the exchange past their deadline (DSP calls would time out, the shaper stop sending).
      connections: 192,
    },
  ),
  exchange('decoration-off', 'redis store; the audience mix without decoration keys: nothing to look up', {
    redis: true,
    workload: { ...BANNER, audience: { ...AUDIENCE, stripKeys: true } },
  }),
  exchange('decoration-on', 'redis store; the audience mix: ~95% decoration cache hits', {
    redis: true,
    workload: { ...BANNER, audience: AUDIENCE },
  }),
  exchange('workers1', 'the full path, WORKERS=1 (core 0)', FULL_PATH),
  exchange('workers2', 'the full path, WORKERS=2 on both cores (shared with DSPs, redis, generator)', {
    ...FULL_PATH,
    env: { WORKERS: '2' },
    cores: '0,1',
  }),
  exchange(
    'full-path',
    '3 DSPs at once, 10k ads, redis decoration at cache hit, 50 paced campaigns, metrics',
    {
      ...FULL_PATH,
      isDefault: true,
    },
  ),
  exchange('shed', 'maxInFlight 1, DSPs holding each auction 60 ms: nearly every answer is a 503', {
    dsps: slowBidders(3),
    config: { overload: { maxInFlight: 1, maxEventLoopLagMs: 1000 } },
    loads: [],
  }),
  exchange('overload-3x', 'the full path at 3x its saturation, production shedder settings, tmax 100', {
    ...FULL_PATH,
    config: DEFAULT_OVERLOAD,
    connections: 4096,
    // Its own saturation, when full-path did not run before it: 64 connections, as full-path's.
    closedConnections: 64,
    loads: [3],
    saturationFrom: 'full-path',
    lateMs: 105,
    isDefault: true,
  }),
]

// ---------------------------------------------------------------------------------------------
// Machine

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const DIST = join(ROOT, 'dist')
const SERVER_CORE = '0'
const CLIENT_CORE = '1'
const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef'
const NOTICE_SECRET = 'bench-notice-secret-0123456789abcdef'

function machineInfo(canPin: boolean): MachineInfo {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : ''
  return {
    cores: cpus().length,
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    kernel: release(),
    node: process.version,
    date: new Date().toISOString(),
    pinned: canPin,
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
  }
}

// ---------------------------------------------------------------------------------------------
// Starting a scenario's processes

/** What a scenario has started; filled in as it starts, so that a failure still stops everything. */
interface Running {
  server: Child | null
  dsps: Child | null
  redis: RedisServer | null
  baseUrl: string
  url: string
  bodiesPath: string
  workload: Workload | null
  campaigns: number
}

function emptyRunning(): Running {
  return {
    server: null,
    dsps: null,
    redis: null,
    baseUrl: '',
    url: '',
    bodiesPath: '',
    workload: null,
    campaigns: 0,
  }
}

async function startDsps(s: Scenario, dir: string, o: RunOptions): Promise<{ child: Child; urls: string[] }> {
  const specs: SimulatedDspSpec[] = []
  for (const d of s.dsps) specs.push({ ...d, port: await freePort(), host: '127.0.0.1' })
  const args = [join(DIST, 'src/demo/simulated-dsp-main.js'), '--specs-json', JSON.stringify(specs)]
  const child = launch({ name: 'dsps', args, core: o.canPin ? CLIENT_CORE : null, cwd: ROOT, dir })
  await waitForLines(child, /listening on/, specs.length)
  return { child, urls: specs.map((d) => `http://127.0.0.1:${d.port}/bid`) }
}

interface ServerStart {
  readonly s: Scenario
  readonly dspUrls: readonly string[]
  readonly dir: string
  readonly o: RunOptions
  readonly workload: Workload
  readonly redis: RedisServer | null
  /** Node options before the script (e.g. --cpu-prof). */
  readonly nodeOptions: readonly string[]
}

async function startServer({ s, dspUrls, dir, o, workload, redis, nodeOptions }: ServerStart) {
  const port = await freePort()
  if (s.server.kind === 'bare') {
    const args = [join(DIST, 'bench/bare-uws-server.js'), '--port', String(port), '--mode', s.server.mode]
    return {
      port,
      child: launch({ name: 'server', args, core: o.canPin ? SERVER_CORE : null, cwd: ROOT, dir }),
    }
  }
  const spec = s.server
  const seedPath = join(dir, 'seed.json')
  writeFileSync(seedPath, JSON.stringify(workload.seed))
  const generated: Record<string, unknown> = {
    port,
    host: '127.0.0.1',
    dsps: s.dsps.map((d, i) => ({ id: d.id, endpoint: dspUrls[i], timeoutMs: 80, ...spec.dspSettings })),
    seed: seedPath,
  }
  const config = mergeConfig(mergeConfig(generated, BENCH_CONFIG), s.server.config)
  const configPath = join(dir, 'exchange.json')
  writeFileSync(configPath, JSON.stringify(config, null, 2))
  const env: Record<string, string> = {
    EXCHANGE_CONFIG: configPath,
    ADMIN_TOKEN,
    NOTICE_SECRET,
    ...s.server.env,
  }
  if (redis !== null) env['DRAGONFLY_URL'] = redis.url
  const cores = o.canPin ? s.server.cores : null
  const args = [...nodeOptions, join(DIST, 'src/main.js')]
  return { port, child: launch({ name: 'server', args, core: cores, env, cwd: ROOT, dir }) }
}

/** Objects merge one level deep (overload, pacing, …); anything else is replaced. */
function mergeConfig(
  base: Record<string, unknown>,
  over: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base }
  for (const [k, v] of Object.entries(over)) {
    const b = out[k]
    out[k] = isPlainObject(b) && isPlainObject(v) ? { ...b, ...v } : v
  }
  return out
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

async function startScenario(
  s: Scenario,
  dir: string,
  o: RunOptions,
  nodeOptions: readonly string[],
  r: Running,
) {
  const startedAt = performance.now()
  const workload = buildWorkload(s.workload, ROOT)
  r.workload = workload
  r.bodiesPath = join(dir, 'bodies.jsonl')
  writeFileSync(r.bodiesPath, `${workload.bodies.join('\n')}\n`)
  if (s.server.kind === 'exchange' && s.server.redis) {
    const redis = await startRedisServer()
    r.redis = redis
    if (o.canPin) pin(redis.pid, CLIENT_CORE)
  }
  let dspUrls: string[] = []
  if (s.dsps.length > 0) {
    const dsps = await startDsps(s, dir, o)
    r.dsps = dsps.child
    dspUrls = dsps.urls
  }
  const server = await startServer({ s, dspUrls, dir, o, workload, redis: r.redis, nodeOptions })
  r.server = server.child
  r.baseUrl = `http://127.0.0.1:${server.port}`
  r.url = `${r.baseUrl}/openrtb2/auction`
  // The exchange is ready once its catalog is loaded (10k ads take a moment); bare servers at once.
  await waitForStatus200(server.child, `${r.baseUrl}/${s.server.kind === 'exchange' ? 'readyz' : 'healthz'}`)
  if (s.server.kind === 'exchange') await checkSeeded(r, workload)
  const now = Date.now()
  for (const [i, id] of workload.campaignIds.entries()) {
    await postJson(`${r.baseUrl}/campaigns`, benchCampaign(id, i, now))
    r.campaigns++
  }
  progress(`${s.name}: started in ${((performance.now() - startedAt) / 1000).toFixed(1)} s`)
}

/**
 * The exchange is ready, but is its seed in? With the store unreachable at start it serves with an
 * empty catalog and never writes the seed (README: Dragonfly); a benchmark must not measure that.
 */
async function checkSeeded(r: Running, workload: Workload): Promise<void> {
  const ads = workload.seed['ads'] as readonly { id?: unknown }[] | undefined
  const last = ads?.at(-1)?.id
  if (r.server === null || typeof last !== 'string') return
  const status = await httpGetStatus(`${r.baseUrl}/ads/${encodeURIComponent(last)}`)
  if (status !== 200) {
    throw new SeedMissingError(
      `the exchange is ready without its seed (GET /ads/${last}: ${status}); see ${r.server.logPath}`,
    )
  }
}

class SeedMissingError extends Error {}

/** Attempts at starting a scenario whose exchange came up without its seed. */
const START_ATTEMPTS = 3

/**
 * Starts a scenario, again (fresh processes) when the exchange came up without its store: its
 * first store command has the request path's 20 ms timeout, which a busy start-up can miss.
 */
async function startWithRetry(
  s: Scenario,
  dir: string,
  o: RunOptions,
  nodeOptions: readonly string[],
  r: Running,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await startScenario(s, dir, o, nodeOptions, r)
      return
    } catch (err) {
      if (!(err instanceof SeedMissingError) || attempt === START_ATTEMPTS) throw err
      progress(`${s.name}: ${err.message}; starting again (${attempt}/${START_ATTEMPTS})`)
      await stopRunning(r)
      Object.assign(r, emptyRunning())
    }
  }
}

function httpGetStatus(url: string): Promise<number> {
  return new Promise((resolveGet) => {
    const req = request(
      url,
      { agent: false, timeout: 5000, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } },
      (res) => {
        res.resume()
        resolveGet(res.statusCode ?? 0)
      },
    )
    req.on('error', () => resolveGet(0))
    req.on('timeout', () => req.destroy())
    req.end()
  })
}

/** An admin API call; throws unless it answers 200 or 201. */
function postJson(url: string, body: unknown): Promise<void> {
  const payload = Buffer.from(JSON.stringify(body))
  return new Promise((resolvePost, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent: false,
        timeout: 5000,
        headers: {
          authorization: `Bearer ${ADMIN_TOKEN}`,
          'content-type': 'application/json',
          'content-length': payload.length,
        },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => {
          text += c
        })
        res.on('end', () =>
          res.statusCode === 200 || res.statusCode === 201
            ? resolvePost()
            : reject(new Error(`POST ${url}: ${res.statusCode} ${text.slice(0, 300)}`)),
        )
      },
    )
    req.on('error', reject)
    req.on('timeout', () => req.destroy(new Error(`POST ${url}: timeout`)))
    req.end(payload)
  })
}

async function stopRunning(r: Running, serverGraceMs = 3000): Promise<void> {
  if (r.server !== null) await stop(r.server, serverGraceMs)
  if (r.dsps !== null) await stop(r.dsps)
  if (r.redis !== null) await r.redis.stop()
  await stopAll()
}

// ---------------------------------------------------------------------------------------------
// Measuring

/** One scenario's running processes, its temp dir and the run options: what every step needs. */
interface Ctx {
  readonly s: Scenario
  readonly running: Running
  readonly dir: string
  readonly o: RunOptions
  /** The server has core 0 to itself: core-0 noise and saturation can be judged. */
  readonly isServerAlone: boolean
  readonly isExchange: boolean
}

/** A Load: closed loop, or open loop at a rate. */
type Load =
  | { readonly mode: 'closed'; readonly connections?: number }
  | { readonly mode: 'open'; readonly share: number; readonly rate: number }

/** Runs the load generator in its own process; `onMeasuring` fires when its measured window starts. */
async function generate(
  ctx: Ctx,
  load: Load,
  durationS: number,
  onMeasuring?: () => void,
): Promise<LoadResult> {
  const { running, o, s } = ctx
  const args = [join(DIST, 'bench/load-generator.js'), '--url', running.url, '--bodies', running.bodiesPath]
  args.push(
    '--json',
    '--mode',
    load.mode,
    '--connections',
    String(load.mode === 'closed' ? (load.connections ?? s.connections) : s.connections),
    '--duration',
    String(durationS),
  )
  args.push('--warmup', String(o.generatorWarmupS))
  if (load.mode === 'open') args.push('--rate', String(load.rate))
  if (s.lateMs !== null) args.push('--late-ms', String(s.lateMs))
  const child = launch({
    name: `load-${load.mode}`,
    args,
    core: o.canPin ? CLIENT_CORE : null,
    cwd: ROOT,
    dir: ctx.dir,
    onLine: (line) => (line === MEASURING_LINE ? onMeasuring?.() : undefined),
  })
  const code = await new Promise<number | null>((done) => child.proc.once('close', (c) => done(c)))
  const line = child.lines.findLast((l) => l.startsWith('{'))
  if (code !== 0 || line === undefined) {
    throw new Error(`load generator failed (exit ${code}); see ${child.logPath}`)
  }
  return JSON.parse(line) as LoadResult
}

/** Seconds of idle CPU measured after start (not with --quick). */
const IDLE_S = 3

/** The server's CPU, share of a core, over `seconds` without load: its background timers. */
async function idleCpu(server: Child, seconds: number): Promise<number> {
  const before = readProcessSample(server.pid)
  await new Promise((r) => setTimeout(r, seconds * 1000))
  return usageBetween(before, readProcessSample(server.pid)).cpuShare
}

function closedLoad(s: Scenario): Load {
  return s.closedConnections === null
    ? { mode: 'closed' }
    : { mode: 'closed', connections: s.closedConnections }
}

/** Requests per second of the first warm-up part. */
const WARMUP_RATE = 200

/**
 * A gentle start, so that cold JIT and fresh pools are not the first thing the server sees: slow
 * answers while the JIT is cold would set the DSP shaper's latency estimate above the deadline, and
 * it then skips every DSP (`deadline`) for tens of seconds. 200 req/s, then 8 connections, then all.
 */
async function warmUp(ctx: Ctx): Promise<void> {
  await generate(ctx, { mode: 'open', share: 0, rate: WARMUP_RATE }, ctx.o.warmupS / 2)
  await generate(ctx, { mode: 'closed', connections: 8 }, ctx.o.warmupS / 2)
  await generate(ctx, { mode: 'closed' }, ctx.o.warmupS)
  await settleShaper(ctx)
}

/** How long settleShaper waits at most, s. */
const SETTLE_MAX_S = 30

/**
 * With DSPs that answer at once, a `deadline` skip can only come from the exchange itself: its DSP
 * latency estimate (p90 of recent answer times) includes its own event-loop queueing, and once it
 * exceeds the time left the DSPs are skipped, no new answers arrive, and the decayed histogram keeps
 * the same p90 until its weight falls under the minimum (tens of seconds at these rates). Before a
 * measurement, wait at 200 req/s (bounded) until the exchange calls its DSPs again, so that the
 * window measures the fan-out; the report still says how many calls each window made.
 */
async function settleShaper(ctx: Ctx): Promise<void> {
  const { s, running } = ctx
  const isInstant = s.dsps.length > 0 && s.dsps.every((d) => d.latencyMs.median === 0)
  if (!ctx.isExchange || !isInstant) return
  const giveUpAt = performance.now() + SETTLE_MAX_S * 1000
  for (let waited = 0; ; waited++) {
    const before = await scrapeMetrics(running.baseUrl)
    await generate(ctx, { mode: 'open', share: 0, rate: WARMUP_RATE }, 1)
    const after = await scrapeMetrics(running.baseUrl)
    if (before === null || after === null) return
    const v = exchangeView(before, after)
    const served = v.auctions - Object.values(v.shed).reduce((a, b) => a + b, 0)
    const perAuction = served > 0 ? v.dspSent / served : 0
    if (perAuction >= 0.9 * s.dsps.length) {
      if (waited > 0) progress(`${s.name}: the exchange calls its DSPs again`)
      return
    }
    if (performance.now() > giveUpAt) {
      progress(`${s.name}: the exchange still skips its DSPs after ${SETTLE_MAX_S} s; measuring anyway`)
      return
    }
    if (waited === 0) {
      const skipped = Object.entries(v.dspSkipped).map(([k, n]) => `${k} ${n}`)
      progress(
        `${s.name}: ${perAuction.toFixed(2)} DSP calls/auction of ${s.dsps.length} after warm-up ` +
          `(skipped: ${skipped.join(', ')}); waiting at ${WARMUP_RATE} req/s for the shaper to recover`,
      )
    }
  }
}

const NOISE_FLAGS = ['machine busy at start', 'other load on core 0']
const isNoise = (flag: string) => NOISE_FLAGS.some((n) => flag.startsWith(n))

interface Measured {
  readonly m: Measurement
  /** CLOCK_MONOTONIC µs of the measured window (for a CPU profile). */
  readonly startUs: number
  readonly endUs: number
  /** The server's stdout lines printed during the window (e.g. --trace-gc). */
  readonly serverLines: readonly string[]
}

/** Measures, and measures again (up to o.retries) while other load on the machine disturbed it. */
async function measureQuietly(ctx: Ctx, load: Load, durationS: number): Promise<Measured> {
  let last: Measured | null = null
  for (let i = 0; i <= ctx.o.retries; i++) {
    last = await measure(ctx, load, durationS)
    if (!last.m.flags.some(isNoise)) break
    if (i < ctx.o.retries) progress('  disturbed by other load on the machine: measuring again')
  }
  return last!
}

async function measure(ctx: Ctx, load: Load, durationS: number): Promise<Measured> {
  const busyAtStart = await waitForQuiet(ctx.o.quietWaitS)
  // Sampled when the generator starts its measured window: its own warm-up is not counted.
  const window: {
    before: ProcSamples | null
    metrics: Promise<Samples | null> | null
    startUs: number
    firstLine: number
  } = { before: null, metrics: null, startUs: 0, firstLine: 0 }
  const result = await generate(ctx, load, durationS, () => {
    window.before = sampleAll(ctx.running)
    window.startUs = monotonicUs()
    window.firstLine = ctx.running.server!.lines.length
    if (ctx.isExchange) window.metrics = scrapeMetrics(ctx.running.baseUrl)
  })
  const endUs = monotonicUs()
  const after = sampleAll(ctx.running)
  const before = window.before
  if (before === null) throw new Error('the load generator never started its measured window')
  const metricsAfter = ctx.isExchange ? await scrapeMetrics(ctx.running.baseUrl) : null
  const metricsBefore = window.metrics === null ? null : await window.metrics
  const server = usageBetween(before.server, after.server)
  const core0Busy = coreBusyShare(before.cores, after.cores, 0)
  const share = (b: ProcessSample | null, a: ProcessSample | null) =>
    b !== null && a !== null ? usageBetween(b, a).cpuShare : null
  const softirqd = share(before.softirqd, after.softirqd) ?? 0
  // Process-context time on core 0 that is not the kernel's own softirq thread.
  const core0Tasks = coreBusyShare(before.cores, after.cores, 0, 'task') - softirqd
  const m: Measurement = {
    mode: load.mode,
    loadShare: load.mode === 'open' ? load.share : null,
    load: result,
    serverCpuUsPerRequest: cpuUsPerRequest(before.server, after.server, result.responses),
    serverCpuShare: server.cpuShare,
    serverRssBytes: server.rssBytes,
    core0Busy,
    core0Irq: core0Busy - core0Tasks,
    core1Busy: coreBusyShare(before.cores, after.cores, 1),
    dspCpuShare: share(before.dsps, after.dsps),
    storeCpuShare: share(before.store, after.store),
    exchange: metricsAfter === null ? null : exchangeView(metricsBefore, metricsAfter),
    heapUsedMb: metricsAfter === null ? null : gauge(metricsAfter, 'nodejs_heap_size_used_bytes') / 2 ** 20,
    flags: flagsOf({
      load: result,
      isClosed: load.mode === 'closed',
      serverShare: server.cpuShare,
      core0Tasks,
      busyAtStart,
      isServerAlone: ctx.isServerAlone,
    }),
  }
  const serverLines = ctx.running.server!.lines.slice(window.firstLine)
  return { m, startUs: window.startUs, endUs, serverLines }
}

interface ProcSamples {
  readonly server: ProcessSample
  readonly dsps: ProcessSample | null
  readonly store: ProcessSample | null
  /** ksoftirqd/0: softirq work deferred to a kernel thread, in process context on core 0. */
  readonly softirqd: ProcessSample | null
  readonly cores: CoreSample[]
}

const KSOFTIRQD0 = findKernelThread('ksoftirqd/0')

function sampleAll(r: Running): ProcSamples {
  return {
    server: readProcessSample(r.server!.pid),
    dsps: r.dsps === null ? null : readProcessSample(r.dsps.pid),
    store: r.redis === null ? null : readProcessSample(r.redis.pid),
    softirqd: KSOFTIRQD0 === null ? null : readProcessSample(KSOFTIRQD0),
    cores: readCoreSamples(),
  }
}

interface FlagInputs {
  readonly load: LoadResult
  readonly isClosed: boolean
  readonly serverShare: number
  /** Core 0's time in process context (not softirq: the server's own loopback traffic). */
  readonly core0Tasks: number
  readonly busyAtStart: string | null
  readonly isServerAlone: boolean
}

/** What makes a figure suspect, said next to it rather than averaged away. */
function flagsOf(f: FlagInputs): string[] {
  const { load } = f
  const flags: string[] = []
  if (f.busyAtStart !== null) flags.push(`machine busy at start (${f.busyAtStart})`)
  if (f.isServerAlone && f.core0Tasks - f.serverShare > 0.05) {
    flags.push(`other load on core 0 (${Math.round((f.core0Tasks - f.serverShare) * 100)}%)`)
  }
  if (f.isServerAlone && f.isClosed && f.serverShare < 0.9) {
    flags.push(`server at ${Math.round(f.serverShare * 100)}%: client-bound`)
  }
  if (load.targetRate !== null && load.throughput < 0.97 * load.targetRate) flags.push('rate not sustained')
  if (load.unsent > 0 || load.incomplete > 0)
    flags.push(`fell behind (${load.unsent + load.incomplete} unanswered)`)
  if (load.errors > 0) flags.push(`${load.errors} connection errors`)
  const bad = Object.entries(load.status).filter(([code]) => !code.startsWith('2'))
  const badCount = bad.reduce((n, [, c]) => n + c, 0)
  if (load.responses > 0 && badCount > 0) {
    const codes = bad.map(([code, c]) => `${code} ×${c}`).join(', ')
    flags.push(`${((100 * badCount) / load.responses).toFixed(1)}% non-2xx (${codes})`)
  }
  return flags
}

// ---------------------------------------------------------------------------------------------
// Running a scenario

/** Temp dirs of scenarios in progress, removed if the run is interrupted. */
const liveDirs = new Set<string>()

const REDIS_MISSING = 'redis-server not installed (Debian package redis-server)'

/** Null when the scenario can run here; else why not (loudly), or an error with REQUIRE_REDIS=1. */
function skipReason(s: Scenario): string | null {
  if (s.server.kind !== 'exchange' || !s.server.redis || redisAvailable()) return null
  if (process.env['REQUIRE_REDIS'] === '1') throw new Error(`${s.name}: REQUIRE_REDIS=1 but ${REDIS_MISSING}`)
  const bar = '!'.repeat(100)
  process.stderr.write(
    `\n${bar}\n!! SKIPPED ${s.name}: ${REDIS_MISSING}; it needs a Dragonfly stand-in\n${bar}\n\n`,
  )
  return REDIS_MISSING
}

interface ScenarioRun extends ProfileRun {
  readonly result: ScenarioResult
}

interface ProfileRun {
  readonly profile: ProfileSummary | null
  /** Profile mode: the server's GC pauses over the closed loop. */
  readonly gc: readonly GcPauses[]
  /** Profile mode: the open loop at 50%: long busy stretches of the event loop, GC pauses. */
  readonly stalls: { summary: StallSummary; gc: readonly GcPauses[]; windowS: number } | null
}

interface ModeOptions {
  /** Profile the server (node --cpu-prof) over the closed loop; no open loops. */
  readonly profile: boolean
}

async function runScenario(
  s: Scenario,
  o: RunOptions,
  done: readonly ScenarioResult[],
  mode: ModeOptions,
): Promise<ScenarioRun> {
  const base = {
    name: s.name,
    about: s.about,
    dspCount: s.dsps.length,
    saturationFrom: null,
    saturationReqS: null,
  }
  let skipped: string | null
  try {
    skipped = skipReason(s)
  } catch (err) {
    return notRun(base, (err as Error).message, null)
  }
  if (skipped !== null) return notRun(base, null, skipped)
  const dir = mkdtempSync(join(tmpdir(), `bench-${s.name}-`))
  liveDirs.add(dir)
  const running = emptyRunning()
  const unregister = onKillAll(() => running.redis?.kill('SIGKILL'))
  let closed: Measurement | null = null
  let saturationFrom: string | null = null
  let saturationReqS: number | null = null
  const open: Measurement[] = []
  let error: string | null = null
  let profile: ProfileSummary | null = null
  let gc: GcPauses[] = []
  let window: { startUs: number; endUs: number } | null = null
  let gcLines: readonly string[] = []
  let idleCpuShare: number | null = null
  let openWindow: { startUs: number; endUs: number } | null = null
  let openGcLines: readonly string[] = []
  let stalls: ProfileRun['stalls'] = null
  const profileDir = join(dir, 'cpu-profile')
  const nodeOptions = mode.profile
    ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--cpu-prof-interval=250', '--trace-gc']
    : []
  try {
    await startWithRetry(s, dir, o, nodeOptions, running)
    const isExchange = s.server.kind === 'exchange'
    const isServerAlone = o.canPin && (s.server.kind === 'bare' || s.server.cores === SERVER_CORE)
    const ctx: Ctx = { s, running, dir, o, isServerAlone, isExchange }
    if (isExchange && !o.isQuick && !mode.profile) idleCpuShare = await idleCpu(running.server!, IDLE_S)
    progress(`${s.name}: warm-up ${2 * o.warmupS} s`)
    await warmUp(ctx)
    const from =
      s.saturationFrom === null ? undefined : done.find((r) => r.name === s.saturationFrom && r.closed)
    if (from?.closed && !mode.profile) {
      saturationFrom = from.name
      saturationReqS = from.closed.load.okThroughput
      progress(`${s.name}: saturation of ${from.name} from this run: ${saturationReqS} req/s`)
    } else {
      progress(
        `${s.name}: closed loop, ${s.closedConnections ?? s.connections} connections, ${o.durationS} s`,
      )
      const measured = await measureQuietly(ctx, closedLoad(s), o.durationS)
      closed = measured.m
      window = { startUs: measured.startUs, endUs: measured.endUs }
      gcLines = measured.serverLines
      saturationReqS = closed.load.okThroughput
    }
    // Profile mode: one open loop at 50%, where the event loop's long busy stretches show.
    const shares = mode.profile ? (s.loads.length > 0 ? [0.5] : []) : s.loads
    for (const share of shares) {
      const rate = Math.max(1, Math.round(saturationReqS * share))
      progress(`${s.name}: open loop ${Math.round(share * 100)}% = ${rate} req/s, ${o.openDurationS} s`)
      const measured = await measureQuietly(ctx, { mode: 'open', share, rate }, o.openDurationS)
      open.push(measured.m)
      openWindow = { startUs: measured.startUs, endUs: measured.endUs }
      openGcLines = measured.serverLines
    }
  } catch (err) {
    error = (err as Error).message
    progress(`${s.name}: FAILED: ${error} (logs kept in ${dir})`)
  } finally {
    // The profile is written when the server exits: give it time to drain and write.
    await stopRunning(running, mode.profile ? 15_000 : 3000)
    unregister()
  }
  if (mode.profile && error === null) {
    // The newest: a restarted server leaves the profile of its first attempt too.
    const file = existsSync(profileDir)
      ? readdirSync(profileDir)
          .filter((f) => f.endsWith('.cpuprofile'))
          .sort((a, b) => statSync(join(profileDir, b)).mtimeMs - statSync(join(profileDir, a)).mtimeMs)[0]
      : undefined
    if (file === undefined) error = `no .cpuprofile written in ${profileDir}`
    else {
      profile = summarizeProfile(join(profileDir, file), window, 30)
      gc = summarizeGcTrace(gcLines)
      if (openWindow !== null) {
        stalls = {
          summary: findStalls(join(profileDir, file), openWindow),
          gc: summarizeGcTrace(openGcLines),
          windowS: (openWindow.endUs - openWindow.startUs) / 1e6,
        }
      }
      progress(`${s.name}: CPU profile kept in ${join(profileDir, file)}`)
    }
  }
  liveDirs.delete(dir)
  if (error === null && !mode.profile) rmSync(dir, { recursive: true, force: true })
  const result: ScenarioResult = {
    ...base,
    workload: running.workload?.summary ?? '',
    closed,
    saturationFrom,
    saturationReqS,
    open,
    campaigns: running.campaigns,
    idleCpuShare,
    error,
    skipped: null,
  }
  return { result, profile, gc, stalls }
}

/** A scenario that did not run: its configuration failed (error) or it was skipped (why). */
function notRun(
  base: Pick<ScenarioResult, 'name' | 'about' | 'dspCount' | 'saturationFrom' | 'saturationReqS'>,
  error: string | null,
  skipped: string | null,
): ScenarioRun {
  return {
    result: {
      ...base,
      workload: '',
      closed: null,
      open: [],
      campaigns: 0,
      idleCpuShare: null,
      error,
      skipped,
    },
    profile: null,
    gc: [],
    stalls: null,
  }
}

// ---------------------------------------------------------------------------------------------
// Soak: one long open loop at half of saturation, memory sampled as it runs

interface SoakResult {
  readonly scenario: ScenarioResult
  readonly samples: readonly SoakSample[]
  readonly verdict: ReturnType<typeof soakVerdict>
  readonly load: LoadResult | null
}

async function runSoak(s: Scenario, o: RunOptions, minutes: number): Promise<SoakResult> {
  if (s.server.kind !== 'exchange') throw new Error('--soak needs an exchange scenario')
  const skipped = skipReason(s)
  if (skipped !== null) throw new Error(`${s.name}: ${skipped}`)
  const dir = mkdtempSync(join(tmpdir(), `bench-soak-${s.name}-`))
  liveDirs.add(dir)
  const running = emptyRunning()
  const unregister = onKillAll(() => running.redis?.kill('SIGKILL'))
  let samples: SoakSample[] = []
  let closed: Measurement | null = null
  let load: LoadResult | null = null
  let error: string | null = null
  try {
    await startWithRetry(s, dir, o, [], running)
    const ctx: Ctx = {
      s,
      running,
      dir,
      o,
      isServerAlone: o.canPin && s.server.cores === SERVER_CORE,
      isExchange: true,
    }
    progress(`soak ${s.name}: warm-up ${2 * o.warmupS} s, then closed loop ${o.durationS} s for saturation`)
    await warmUp(ctx)
    closed = (await measureQuietly(ctx, closedLoad(s), o.durationS)).m
    const rate = Math.max(1, Math.round(closed.load.okThroughput * 0.5))
    progress(`soak ${s.name}: open loop at 50% = ${rate} req/s for ${minutes} min, sampling every 10 s`)
    const generating = generate(ctx, { mode: 'open', share: 0.5, rate }, minutes * 60)
    samples = await sampleSoak({
      pid: running.server!.pid,
      baseUrl: running.baseUrl,
      intervalS: 10,
      until: generating.catch(() => undefined),
      onSample: (x) =>
        progress(`  t=${x.tS.toFixed(0)} s RSS ${x.rssMb.toFixed(1)} MB heap ${x.heapUsedMb.toFixed(1)} MB`),
    })
    load = await generating
  } catch (err) {
    error = (err as Error).message
    progress(`soak ${s.name}: FAILED: ${error} (logs kept in ${dir})`)
  } finally {
    await stopRunning(running)
    unregister()
  }
  liveDirs.delete(dir)
  if (error === null) rmSync(dir, { recursive: true, force: true })
  const scenario: ScenarioResult = {
    name: s.name,
    about: s.about,
    workload: running.workload?.summary ?? '',
    closed,
    saturationFrom: null,
    saturationReqS: closed?.load.okThroughput ?? null,
    open: [],
    dspCount: s.dsps.length,
    campaigns: running.campaigns,
    idleCpuShare: null,
    error,
    skipped: null,
  }
  return { scenario, samples, verdict: soakVerdict(samples), load }
}

function soakReport(machine: MachineInfo, minutes: number, r: SoakResult): string {
  const l = r.load
  const ms = (us: number) => (us / 1000).toFixed(3)
  return [
    '',
    `Soak: ${r.scenario.name}, ${minutes} min at 50% of its saturation (${r.scenario.saturationReqS ?? '-'} req/s ` +
      `closed loop); ${machine.cores} cores, ${machine.cpuModel}, Node ${machine.node}, ${machine.date}, ` +
      `load average at start ${machine.loadAverage.join(' ')}`,
    r.scenario.error === null ? '' : `FAILED: ${r.scenario.error}`,
    soakTable(r.samples),
    '',
    `Verdict: ${r.verdict.text}`,
    l === null
      ? ''
      : `Latency over the soak: ${l.responses} answers at ${l.throughput} req/s (asked ${l.targetRate}), ` +
        `p50 ${ms(l.latency.p50Us)} ms, p99 ${ms(l.latency.p99Us)} ms, p99.9 ${ms(l.latency.p999Us)} ms, ` +
        `max ${ms(l.latency.maxUs)} ms; status ${JSON.stringify(l.status)}`,
    '',
  ].join('\n')
}

// ---------------------------------------------------------------------------------------------
// Entry

function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`)
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      duration: { type: 'string' },
      scenario: { type: 'string' },
      json: { type: 'string' },
      list: { type: 'boolean', default: false },
      soak: { type: 'boolean', default: false },
      'soak-minutes': { type: 'string', default: '10' },
      profile: { type: 'boolean', default: false },
    },
    strict: true,
  })
  const canPin = cpus().length >= 2 && hasTaskset()
  const quick = values.quick
  const durationS = values.duration === undefined ? (quick ? 2 : 8) : Number(values.duration)
  if (!(durationS > 0)) throw new Error('--duration must be a number of seconds > 0')
  const options: RunOptions = {
    warmupS: quick ? 1 : 3,
    durationS,
    openDurationS: values.duration === undefined && quick ? 1.25 : durationS,
    quietWaitS: quick ? 0.2 : 10,
    retries: quick ? 0 : 1,
    generatorWarmupS: quick ? 0.3 : 1,
    canPin,
    isQuick: quick,
  }
  const names = values.scenario?.split(',').map((n) => n.trim())
  const unknown = names?.filter((n) => n !== 'all' && !SCENARIOS.some((s) => s.name === n)) ?? []
  if (unknown.length > 0)
    throw new Error(`unknown scenario ${unknown.join(', ')} (have ${scenarioNames()}, all)`)
  const modeDefault = values.soak || values.profile ? ['full-path'] : null
  const chosen = names ?? modeDefault
  const scenarios =
    chosen === null
      ? SCENARIOS.filter((s) => s.isDefault)
      : chosen.includes('all')
        ? [...SCENARIOS]
        : SCENARIOS.filter((s) => chosen.includes(s.name))
  const soakMinutes = Number(values['soak-minutes'])
  if (!(soakMinutes > 0)) throw new Error('--soak-minutes must be > 0')
  if (values.soak && scenarios.length !== 1) throw new Error('--soak runs one scenario (default full-path)')
  return {
    options,
    scenarios,
    jsonPath: values.json ?? null,
    isList: values.list,
    soakMinutes: values.soak ? soakMinutes : null,
    isProfile: values.profile,
  }
}

function scenarioNames(): string {
  return SCENARIOS.map((s) => s.name).join(', ')
}

function checkBuilt(scenarios: readonly Scenario[]): void {
  const needed = [join(DIST, 'bench/load-generator.js'), join(DIST, 'bench/bare-uws-server.js')]
  if (scenarios.some((s) => s.dsps.length > 0)) needed.push(join(DIST, 'src/demo/simulated-dsp-main.js'))
  if (scenarios.some((s) => s.server.kind === 'exchange')) needed.push(join(DIST, 'src/main.js'))
  const missing = needed.filter((p) => !existsSync(p))
  if (missing.length > 0) throw new Error(`not built: ${missing.join(', ')} (run npm run build)`)
}

async function main(): Promise<number> {
  const { options, scenarios, jsonPath, isList, soakMinutes, isProfile } = parseOptions()
  if (isList) {
    for (const s of SCENARIOS)
      console.log(`${s.name.padEnd(18)} ${s.isDefault ? 'default ' : 'optional'} ${s.about}`)
    return 0
  }
  checkBuilt(scenarios)
  const machine = machineInfo(options.canPin)
  // Keep this orchestrator off the server's core too.
  if (options.canPin) pin(process.pid, CLIENT_CORE)
  const startedAt = Date.now()
  const write = (data: unknown) => {
    if (jsonPath === null) return
    writeFileSync(jsonPath, `${JSON.stringify({ machine, options, ...(data as object) }, null, 2)}\n`)
    progress(`results written to ${jsonPath}`)
  }

  if (soakMinutes !== null) {
    const soak = await runSoak(scenarios[0]!, options, soakMinutes)
    console.log(soakReport(machine, soakMinutes, soak))
    write({ soak })
    return soak.scenario.error === null ? 0 : 1
  }

  const results: ScenarioResult[] = []
  const profiles: (ProfileRun & { name: string; profile: ProfileSummary })[] = []
  for (const s of scenarios) {
    const run = await runScenario(s, options, results, { profile: isProfile })
    results.push(run.result)
    if (run.profile !== null) profiles.push({ ...run, name: s.name, profile: run.profile })
  }
  const lateMs = (name: string) => SCENARIOS.find((s) => s.name === name)?.lateMs ?? null
  console.log(report(machine, options, results, lateMs))
  for (const p of profiles) {
    console.log(`CPU profile of ${p.name} (server, closed loop; self time; profiling adds overhead):`)
    console.log(formatProfile(p.profile))
    console.log('')
    console.log(formatGc(p.gc, p.profile.windowMs / 1000))
    console.log('')
    if (p.stalls !== null) {
      const half = results.find((r) => r.name === p.name)?.open[0]
      const l = half?.load.latency
      console.log(
        `Open loop at 50% (${half?.load.targetRate ?? '-'} req/s` +
          (l === undefined
            ? ')'
            : `: p50 ${(l.p50Us / 1000).toFixed(3)} ms, p99 ${(l.p99Us / 1000).toFixed(3)} ms, max ${(l.maxUs / 1000).toFixed(3)} ms)`),
      )
      console.log(formatStalls(p.stalls.summary, p.stalls.windowS))
      console.log('')
      console.log(formatGc(p.stalls.gc, p.stalls.windowS))
      console.log('')
    }
  }
  const skipped = results.filter((r) => r.skipped !== null)
  if (skipped.length > 0) {
    console.log(
      table(
        ['SKIPPED', 'why'],
        skipped.map((r) => [r.name, r.skipped ?? '']),
      ),
    )
  }
  progress(`done in ${Math.round((Date.now() - startedAt) / 1000)} s`)
  write({ scenarios: results, profiles })
  return results.some((r) => r.error !== null) ? 1 : 0
}

function interrupted(code: number): never {
  killAllNow()
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true })
  process.exit(code)
}

process.on('SIGINT', () => interrupted(130))
process.on('SIGTERM', () => interrupted(143))
process.on('exit', killAllNow)

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench: ${(err as Error).message}`)
    killAllNow()
    process.exit(1)
  },
)
