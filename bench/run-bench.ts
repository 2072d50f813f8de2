import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { get } from 'node:http'
import { createServer } from 'node:net'
import { cpus, release, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { SimulatedDspSpec } from '../src/demo/simulated-dsp.js'
import { type LoadResult, MEASURING_LINE } from './load-generator.js'
import {
  type CoreSample,
  coreBusyShare,
  cpuUsPerRequest,
  type ProcessSample,
  readCoreSamples,
  readProcessSample,
  usageBetween,
} from './process-stats.js'

/**
 * `npm run bench`: each scenario in its own processes on loopback: the server pinned to core 0,
 * simulated DSPs and the load generator on core 1 (when taskset exists and there are ≥ 2 cores).
 * Per scenario: warm-up, a closed loop at saturation (throughput, latency, server CPU µs/request
 * from /proc, RSS), then open loops at 25/50/75% of that throughput (latency without coordinated
 * omission). Ratios are taken against the ceiling measured in the same run.
 */

// ---------------------------------------------------------------------------------------------
// Scenarios: data. Adding one is one line with the helpers below.

type ServerSpec =
  | { readonly kind: 'bare'; readonly mode: 'canned' | 'json' }
  | {
      readonly kind: 'exchange'
      /** Extra environment (e.g. WORKERS). */
      readonly env: Readonly<Record<string, string>>
      /** Merged over the generated config file. */
      readonly config: Readonly<Record<string, unknown>>
      /** House ads in the generated seed. */
      readonly ads: number
      /** taskset core list for the server; default "0". */
      readonly cores: string
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
  /** A file in bench/requests/. */
  readonly request: string
}

const BANNER_REQUEST = 'banner-2imp.json'

function bare(name: string, about: string, mode: 'canned' | 'json'): Scenario {
  return { name, about, isDefault: true, server: { kind: 'bare', mode }, dsps: [], request: BANNER_REQUEST }
}

interface ExchangeOptions {
  readonly dsps?: readonly DspTemplate[]
  readonly env?: Readonly<Record<string, string>>
  readonly config?: Readonly<Record<string, unknown>>
  readonly ads?: number
  readonly cores?: string
  readonly isDefault?: boolean
}

function exchange(name: string, about: string, o: ExchangeOptions = {}): Scenario {
  return {
    name,
    about,
    isDefault: o.isDefault ?? true,
    server: {
      kind: 'exchange',
      env: o.env ?? {},
      config: o.config ?? {},
      ads: o.ads ?? 8,
      cores: o.cores ?? '0',
    },
    dsps: o.dsps ?? instantBidders(3),
    request: BANNER_REQUEST,
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

export const SCENARIOS: readonly Scenario[] = [
  bare('ceiling', 'bare uWS: reads the body, answers a canned ~600 B BidResponse', 'canned'),
  bare('json', 'bare uWS + JSON.parse of the request + JSON.stringify of a response', 'json'),
  exchange('exchange', 'the exchange, 3 DSPs answering at once, always bidding'),
  exchange('exchange-10dsp', 'the exchange, 10 DSPs, log-normal latency 5-30 ms', {
    dsps: lognormalBidders(10),
    isDefault: false,
  }),
  exchange('exchange-10k-ads', 'the exchange, 10,000 house ads in the catalog', {
    ads: 10_000,
    isDefault: false,
  }),
  exchange('exchange-workers2', 'the exchange, WORKERS=2 on both cores (shared with DSPs)', {
    env: { WORKERS: '2' },
    cores: '0,1',
    isDefault: false,
  }),
]

// ---------------------------------------------------------------------------------------------
// Options and machine

interface RunOptions {
  readonly warmupS: number
  readonly durationS: number
  readonly connections: number
  readonly loads: readonly number[]
  /** Longest wait for a quiet machine before each measurement. */
  readonly quietWaitS: number
  /** The load generator's own warm-up before each measurement (its JIT, not the server's). */
  readonly generatorWarmupS: number
  /** Extra attempts for a measurement disturbed by other load on the machine. */
  readonly retries: number
  readonly canPin: boolean
}

interface MachineInfo {
  readonly cores: number
  readonly cpuModel: string
  readonly kernel: string
  readonly node: string
  readonly date: string
  readonly pinned: boolean
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const DIST = join(ROOT, 'dist')
const SERVER_CORE = '0'
const CLIENT_CORE = '1'

function machineInfo(canPin: boolean): MachineInfo {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : ''
  return {
    cores: cpus().length,
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    kernel: release(),
    node: process.version,
    date: new Date().toISOString(),
    pinned: canPin,
  }
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

// ---------------------------------------------------------------------------------------------
// Child processes: each in its own process group, all killed at the end, on failure and on SIGINT.

interface Child {
  readonly name: string
  readonly proc: ChildProcess
  readonly pid: number
  /** stdout lines so far. */
  readonly lines: string[]
  readonly logPath: string
  exited: boolean
}

const children = new Set<Child>()

interface LaunchSpec {
  readonly name: string
  /** Node arguments: the script and its flags. */
  readonly args: readonly string[]
  /** taskset core list, or null not to pin. */
  readonly core: string | null
  readonly env?: Readonly<Record<string, string>>
  /** Where its log goes. */
  readonly dir: string
  /** Called with each stdout line as it arrives. */
  readonly onLine?: (line: string) => void
}

function launch({ name, args, core, env = {}, dir, onLine }: LaunchSpec): Child {
  const command = core === null ? process.execPath : 'taskset'
  const argv = core === null ? [...args] : ['-c', core, process.execPath, ...args]
  const proc = spawn(command, argv, { cwd: ROOT, env: { ...process.env, ...env }, detached: true })
  if (proc.pid === undefined) throw new Error(`cannot start ${name}`)
  const logPath = join(dir, `${name}.log`)
  const log = createWriteStream(logPath)
  const child: Child = { name, proc, pid: proc.pid, lines: [], logPath, exited: false }
  let partial = ''
  proc.stdout?.on('data', (chunk: Buffer) => {
    log.write(chunk)
    const text = partial + chunk.toString('utf8')
    const parts = text.split('\n')
    partial = parts.pop() ?? ''
    child.lines.push(...parts)
    if (onLine !== undefined) for (const line of parts) onLine(line)
  })
  proc.stderr?.pipe(log)
  // 'close', not 'exit': stdout is fully read by then.
  proc.on('close', () => {
    child.exited = true
    if (partial !== '') child.lines.push(partial)
    children.delete(child)
  })
  children.add(child)
  return child
}

/** SIGTERM to the child's process group, SIGKILL after 3 s; resolves when it has exited. */
async function stop(child: Child): Promise<void> {
  if (child.exited) return
  const exited = new Promise<void>((r) => child.proc.once('close', () => r()))
  signalGroup(child.pid, 'SIGTERM')
  const timer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), 3000)
  await exited
  clearTimeout(timer)
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch {
    // Already gone.
  }
}

function killAllNow(): void {
  for (const c of children) signalGroup(c.pid, 'SIGKILL')
}

// ---------------------------------------------------------------------------------------------
// Readiness and helpers

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolvePort(port))
    })
  })
}

function httpStatus(url: string): Promise<number> {
  return new Promise((r) => {
    const req = get(url, { agent: false, timeout: 1000 }, (res) => {
      res.resume()
      r(res.statusCode ?? 0)
    })
    req.on('error', () => r(0))
    req.on('timeout', () => req.destroy())
  })
}

async function waitForHealth(child: Child, url: string, timeoutMs = 30_000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs
  while (Date.now() < giveUpAt) {
    if (child.exited) throw new Error(`${child.name} exited before it was ready; see ${child.logPath}`)
    if ((await httpStatus(url)) === 200) return
    await sleep(100)
  }
  throw new Error(`${child.name} not healthy at ${url} after ${timeoutMs / 1000} s; see ${child.logPath}`)
}

async function waitForLines(child: Child, pattern: RegExp, count: number, timeoutMs = 15_000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs
  while (child.lines.filter((l) => pattern.test(l)).length < count) {
    if (child.exited) throw new Error(`${child.name} exited at start; see ${child.logPath}`)
    if (Date.now() > giveUpAt) throw new Error(`${child.name} did not start in time; see ${child.logPath}`)
    await sleep(50)
  }
}

/** Waits (bounded) until every core is under 10% busy, so a run does not start on a busy machine. */
async function waitForQuiet(maxS: number): Promise<boolean> {
  const giveUpAt = Date.now() + maxS * 1000
  do {
    const before = readCoreSamples()
    await sleep(500)
    const after = readCoreSamples()
    if (before.every((_, i) => coreBusyShare(before, after, i) < 0.1)) return true
  } while (Date.now() < giveUpAt)
  return false
}

// ---------------------------------------------------------------------------------------------
// Starting a scenario's processes

interface Running {
  readonly server: Child
  readonly dsps: Child | null
  readonly url: string
  readonly bodyPath: string
}

async function startDsps(
  s: Scenario,
  dir: string,
  o: RunOptions,
): Promise<{ child: Child | null; urls: string[] }> {
  if (s.dsps.length === 0) return { child: null, urls: [] }
  const specs: SimulatedDspSpec[] = []
  for (const d of s.dsps) specs.push({ ...d, port: await freePort(), host: '127.0.0.1' })
  const args = [join(DIST, 'src/demo/simulated-dsp-main.js'), '--specs-json', JSON.stringify(specs)]
  const child = launch({ name: 'dsps', args, core: o.canPin ? CLIENT_CORE : null, dir })
  await waitForLines(child, /listening on/, specs.length)
  return { child, urls: specs.map((d) => `http://127.0.0.1:${d.port}/bid`) }
}

async function startServer(s: Scenario, dspUrls: readonly string[], dir: string, o: RunOptions) {
  const port = await freePort()
  if (s.server.kind === 'bare') {
    const args = [join(DIST, 'bench/bare-uws-server.js'), '--port', String(port), '--mode', s.server.mode]
    return { port, child: launch({ name: 'server', args, core: o.canPin ? SERVER_CORE : null, dir }) }
  }
  const seedPath = join(dir, 'seed.json')
  writeFileSync(seedPath, JSON.stringify({ ads: houseAds(s.server.ads) }))
  const config = {
    port,
    host: '127.0.0.1',
    dsps: s.dsps.map((d, i) => ({ id: d.id, endpoint: dspUrls[i], timeoutMs: 80 })),
    seed: seedPath,
    ...s.server.config,
  }
  const configPath = join(dir, 'exchange.json')
  writeFileSync(configPath, JSON.stringify(config, null, 2))
  const env = { EXCHANGE_CONFIG: configPath, ...s.server.env }
  const cores = o.canPin ? s.server.cores : null
  return { port, child: launch({ name: 'server', args: [join(DIST, 'src/main.js')], core: cores, env, dir }) }
}

/** House ads for the seed: sizes of the bench request and others, spread targeting and prices. */
function houseAds(n: number): Record<string, unknown>[] {
  const sizes = [
    ['300x250'],
    ['728x90', '970x90'],
    ['300x250', '336x280'],
    ['160x600'],
    ['320x50'],
    ['300x600'],
  ]
  const countries = [[], ['USA'], ['USA', 'CAN'], ['GBR', 'DEU', 'FRA'], ['JPN']]
  const categories = ['IAB1', 'IAB2', 'IAB3', 'IAB12', 'IAB17', 'IAB19', 'IAB20', 'IAB22']
  return Array.from({ length: n }, (_, i) => ({
    id: `bench-${i + 1}`,
    title: `Bench ad ${i + 1}`,
    category: categories[i % categories.length],
    clickURL: `https://advertiser-${i % 97}.example/landing?ad=${i + 1}`,
    imageURL: `https://cdn.advertiser-${i % 97}.example/${i + 1}.png`,
    price: (0.1 + ((i * 7919) % 200) / 100).toFixed(2),
    sizes: sizes[i % sizes.length],
    adomain: `advertiser-${i % 97}.example`,
    campaign: `c-${i % 50}`,
    targeting: { countries: countries[(i * 31) % countries.length], deviceTypes: i % 3 === 0 ? [4, 5] : [] },
  }))
}

async function startScenario(s: Scenario, dir: string, o: RunOptions): Promise<Running> {
  const dsps = await startDsps(s, dir, o)
  const server = await startServer(s, dsps.urls, dir, o)
  const base = `http://127.0.0.1:${server.port}`
  await waitForHealth(server.child, `${base}/healthz`)
  // The request file is pretty-printed for reading; what goes on the wire is minified, as publishers send it.
  const bodyPath = join(dir, 'request.json')
  writeFileSync(
    bodyPath,
    JSON.stringify(JSON.parse(readFileSync(join(ROOT, 'bench/requests', s.request), 'utf8'))),
  )
  return { server: server.child, dsps: dsps.child, url: `${base}/openrtb2/auction`, bodyPath }
}

// ---------------------------------------------------------------------------------------------
// Measuring

interface Measurement {
  readonly mode: 'closed' | 'open'
  /** Open loop: share of the closed-loop throughput asked for. */
  readonly loadShare: number | null
  readonly load: LoadResult
  readonly serverCpuUsPerRequest: number
  /** Server CPU over the run, in cores (1 = one core fully busy). */
  readonly serverCpuShare: number
  readonly serverRssBytes: number
  readonly core0Busy: number
  /** Busy share of core 1 (DSPs, load generator, anything else). */
  readonly core1Busy: number
  readonly dspCpuShare: number | null
  readonly flags: readonly string[]
}

interface ScenarioResult {
  readonly name: string
  readonly about: string
  readonly closed: Measurement | null
  readonly open: readonly Measurement[]
  /** Counters each simulated DSP printed when stopped. */
  readonly dspStats: Readonly<Record<string, Readonly<Record<string, number>>>>
  /** Answers over the whole scenario, warm-up included: the denominator of DSP calls per auction. */
  readonly answers: number
  readonly dspCount: number
  readonly error: string | null
}

/** One scenario's running processes, its temp dir and the run options: what every step needs. */
interface Ctx {
  readonly running: Running
  readonly dir: string
  readonly o: RunOptions
  /** The server has core 0 to itself: core-0 noise and saturation can be judged. */
  readonly isServerAlone: boolean
}

/** A Load: closed loop, or open loop at a rate. */
type Load =
  | { readonly mode: 'closed' }
  | { readonly mode: 'open'; readonly share: number; readonly rate: number }

/** Runs the load generator in its own process; `onMeasuring` fires when its measured window starts. */
async function generate(
  ctx: Ctx,
  load: Load,
  durationS: number,
  onMeasuring?: () => void,
): Promise<LoadResult> {
  const { running, o } = ctx
  const args = [
    join(DIST, 'bench/load-generator.js'),
    '--url',
    running.url,
    '--body',
    running.bodyPath,
    '--json',
  ]
  args.push('--mode', load.mode, '--connections', String(o.connections), '--duration', String(durationS))
  args.push('--warmup', String(o.generatorWarmupS))
  if (load.mode === 'open') args.push('--rate', String(load.rate))
  const child = launch({
    name: `load-${load.mode}`,
    args,
    core: o.canPin ? CLIENT_CORE : null,
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

/** Every answer the server gave a generator run, its warm-up included. */
function allAnswers(r: LoadResult): number {
  return r.responses + r.warmupResponses
}

/** Requests per second of the first warm-up second. */
const WARMUP_RATE = 200

const NOISE_FLAGS = ['machine busy at start', 'other load on core 0']

/** Measures, and measures again (up to o.retries) while other load on the machine disturbed it. */
async function measureQuietly(ctx: Ctx, load: Load): Promise<{ m: Measurement; answers: number }> {
  const attempts: Measurement[] = []
  for (let i = 0; i <= ctx.o.retries; i++) {
    const m = await measure(ctx, load)
    attempts.push(m)
    if (!m.flags.some((f) => NOISE_FLAGS.includes(f))) break
    if (i < ctx.o.retries) progress('  disturbed by other load on the machine: measuring again')
  }
  const answers = attempts.reduce((n, m) => n + allAnswers(m.load), 0)
  return { m: attempts.at(-1)!, answers }
}

async function measure(ctx: Ctx, load: Load): Promise<Measurement> {
  const isQuiet = await waitForQuiet(ctx.o.quietWaitS)
  // Sampled when the generator starts its measured window: its own warm-up is not counted.
  const window: { before: Samples | null } = { before: null }
  const result = await generate(ctx, load, ctx.o.durationS, () => {
    window.before = sampleAll(ctx.running)
  })
  const after = sampleAll(ctx.running)
  const before = window.before
  if (before === null) throw new Error('the load generator never started its measured window')
  const server = usageBetween(before.server, after.server)
  const core0Busy = coreBusyShare(before.cores, after.cores, 0)
  const dspCpuShare = before.dsps && after.dsps ? usageBetween(before.dsps, after.dsps).cpuShare : null
  return {
    mode: load.mode,
    loadShare: load.mode === 'open' ? load.share : null,
    load: result,
    serverCpuUsPerRequest: cpuUsPerRequest(before.server, after.server, result.responses),
    serverCpuShare: server.cpuShare,
    serverRssBytes: server.rssBytes,
    core0Busy,
    core1Busy: coreBusyShare(before.cores, after.cores, 1),
    dspCpuShare,
    flags: flagsOf({
      load: result,
      isClosed: load.mode === 'closed',
      serverShare: server.cpuShare,
      core0Busy,
      isQuiet,
      isServerAlone: ctx.isServerAlone,
    }),
  }
}

interface Samples {
  readonly server: ProcessSample
  readonly dsps: ProcessSample | null
  readonly cores: CoreSample[]
}

function sampleAll(r: Running): Samples {
  return {
    server: readProcessSample(r.server.pid),
    dsps: r.dsps === null ? null : readProcessSample(r.dsps.pid),
    cores: readCoreSamples(),
  }
}

interface FlagInputs {
  readonly load: LoadResult
  readonly isClosed: boolean
  readonly serverShare: number
  readonly core0Busy: number
  readonly isQuiet: boolean
  readonly isServerAlone: boolean
}

/** What makes a figure suspect, said next to it rather than averaged away. */
function flagsOf(f: FlagInputs): string[] {
  const { load } = f
  const flags: string[] = []
  if (!f.isQuiet) flags.push('machine busy at start')
  if (f.isServerAlone && f.core0Busy - f.serverShare > 0.05) flags.push('other load on core 0')
  if (f.isServerAlone && f.isClosed && f.serverShare < 0.9) {
    flags.push(`server at ${Math.round(f.serverShare * 100)}%: client-bound`)
  }
  if (load.targetRate !== null && load.throughput < 0.97 * load.targetRate) flags.push('rate not sustained')
  if (load.unsent > 0 || load.incomplete > 0)
    flags.push(`fell behind (${load.unsent + load.incomplete} unanswered)`)
  if (load.errors > 0) flags.push(`${load.errors} connection errors`)
  const good = Object.entries(load.status).reduce((n, [code, c]) => (code.startsWith('2') ? n + c : n), 0)
  if (load.responses > 0 && good < load.responses) {
    flags.push(`${((100 * (load.responses - good)) / load.responses).toFixed(1)}% non-2xx`)
  }
  return flags
}

/** Temp dirs of scenarios in progress, removed if the run is interrupted. */
const liveDirs = new Set<string>()

async function runScenario(s: Scenario, o: RunOptions): Promise<ScenarioResult> {
  const dir = mkdtempSync(join(tmpdir(), `bench-${s.name}-`))
  liveDirs.add(dir)
  let running: Running | null = null
  let closed: Measurement | null = null
  const open: Measurement[] = []
  let dspStats: Record<string, Record<string, number>> = {}
  let error: string | null = null
  let answers = 0
  try {
    running = await startScenario(s, dir, o)
    const isServerAlone = o.canPin && (s.server.kind === 'bare' || s.server.cores === SERVER_CORE)
    const ctx: Ctx = { running, dir, o, isServerAlone }
    progress(`${s.name}: warm-up ${o.warmupS} s`)
    // A gentle start, so that cold JIT and fresh pools are not the first thing the server sees.
    answers += allAnswers(await generate(ctx, { mode: 'open', share: 0, rate: WARMUP_RATE }, o.warmupS / 2))
    answers += allAnswers(await generate(ctx, { mode: 'closed' }, o.warmupS))
    progress(`${s.name}: closed loop, ${o.connections} connections, ${o.durationS} s`)
    const saturation = await measureQuietly(ctx, { mode: 'closed' })
    closed = saturation.m
    answers += saturation.answers
    for (const share of o.loads) {
      const rate = Math.max(1, Math.round(closed.load.throughput * share))
      progress(`${s.name}: open loop ${Math.round(share * 100)}% = ${rate} req/s, ${o.durationS} s`)
      const run = await measureQuietly(ctx, { mode: 'open', share, rate })
      open.push(run.m)
      answers += run.answers
    }
  } catch (err) {
    error = (err as Error).message
    progress(`${s.name}: FAILED: ${error} (logs kept in ${dir})`)
  } finally {
    if (running !== null) {
      await stop(running.server)
      if (running.dsps !== null) {
        await stop(running.dsps)
        dspStats = parseDspStats(running.dsps.lines)
      }
    }
    for (const c of [...children]) await stop(c)
    liveDirs.delete(dir)
    if (error === null) rmSync(dir, { recursive: true, force: true })
  }
  return { name: s.name, about: s.about, closed, open, dspStats, answers, dspCount: s.dsps.length, error }
}

function parseDspStats(lines: readonly string[]): Record<string, Record<string, number>> {
  const stats: Record<string, Record<string, number>> = {}
  for (const line of lines) {
    const m = /^(\S+) stopped: (\{.*\})$/.exec(line)
    if (m?.[1] !== undefined && m[2] !== undefined) stats[m[1]] = JSON.parse(m[2]) as Record<string, number>
  }
  return stats
}

function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`)
}

// ---------------------------------------------------------------------------------------------
// Report

const ms = (us: number): string => (Number.isFinite(us) ? (us / 1000).toFixed(3) : '-')
const pct = (share: number): string => (Number.isFinite(share) ? `${Math.round(share * 100)}%` : '-')

function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n')
}

function saturationTable(results: readonly ScenarioResult[]): string {
  const ceiling = results.find((r) => r.name === 'ceiling')?.closed ?? null
  const rows = results.flatMap((r) => {
    const c = r.closed
    if (c === null) return [[r.name, `failed: ${r.error ?? 'no result'}`]]
    const perCore = 1e6 / c.serverCpuUsPerRequest
    return [
      [
        r.name,
        String(c.load.throughput),
        c.serverCpuUsPerRequest.toFixed(1),
        Number.isFinite(perCore) ? String(Math.round(perCore)) : '-',
        pct(c.serverCpuShare),
        c.dspCpuShare === null ? '-' : pct(c.dspCpuShare),
        pct(c.core1Busy),
        (c.serverRssBytes / 2 ** 20).toFixed(0),
        ms(c.load.latency.p50Us),
        ms(c.load.latency.p99Us),
        ms(c.load.latency.p999Us),
        ceiling === null ? '-' : (c.load.throughput / ceiling.load.throughput).toFixed(3),
        ceiling === null ? '-' : (ceiling.serverCpuUsPerRequest / c.serverCpuUsPerRequest).toFixed(3),
        c.flags.join('; '),
      ],
    ]
  })
  const headers = ['scenario', 'req/s', 'CPU µs/req', 'req/s/core', 'srv CPU', 'DSP CPU', 'core 1', 'RSS MB']
  headers.push('p50 ms', 'p99 ms', 'p99.9 ms', 'req/s ÷ ceiling', 'ceiling µs ÷ µs', 'flags')
  return table(headers, rows)
}

function openLoopTable(results: readonly ScenarioResult[]): string {
  const rows = results.flatMap((r) =>
    r.open.map((m) => [
      r.name,
      `${Math.round((m.loadShare ?? 0) * 100)}%`,
      String(m.load.targetRate ?? '-'),
      String(m.load.throughput),
      ms(m.load.latency.p50Us),
      ms(m.load.latency.p99Us),
      ms(m.load.latency.p999Us),
      ms(m.load.latency.maxUs),
      pct(m.serverCpuShare),
      m.serverCpuUsPerRequest.toFixed(1),
      m.dspCpuShare === null ? '-' : pct(m.dspCpuShare),
      ms(m.load.sendLag?.p99Us ?? Number.NaN),
      m.flags.join('; '),
    ]),
  )
  const headers = ['scenario', 'load', 'rate', 'req/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'srv CPU']
  headers.push('CPU µs/req', 'DSP CPU', 'send lag p99 ms', 'flags')
  return table(headers, rows)
}

/** A fan-out scenario measures nothing if the exchange stopped calling its DSPs: say so. */
function dspSummary(results: readonly ScenarioResult[]): string[] {
  return results.flatMap((r) => {
    const stats = Object.values(r.dspStats)
    if (r.dspCount === 0 || r.answers === 0) return []
    const sum = (key: string): number => stats.reduce((n, s) => n + (s[key] ?? 0), 0)
    const perAuction = sum('requests') / r.answers
    const warning = perAuction < 0.9 * r.dspCount ? ` (WARNING: expected ~${r.dspCount}: DSPs skipped)` : ''
    return [
      `DSPs, ${r.name}: ${perAuction.toFixed(2)} calls per auction${warning}; ${sum('bids')} bids, ` +
        `${sum('lateAnswers')} answers after tmax, over ${r.answers} auctions`,
    ]
  })
}

function report(machine: MachineInfo, o: RunOptions, results: readonly ScenarioResult[]): string {
  return [
    '',
    `Machine: ${machine.cores} cores, ${machine.cpuModel}, Linux ${machine.kernel}, Node ${machine.node}, ${machine.date}`,
    machine.pinned
      ? `Pinning: server on core ${SERVER_CORE}; DSPs and load generator on core ${CLIENT_CORE}`
      : 'Pinning: none (taskset missing or a single core): figures are indicative only',
    `Closed loop: ${o.connections} connections, ${o.durationS} s after a ${o.warmupS} s warm-up; open loops at ` +
      `${o.loads.map((l) => `${l * 100}%`).join('/')} of its throughput, ${o.durationS} s each`,
    '',
    'Saturation (closed loop). CPU µs/req = server utime+stime ÷ answers; req/s/core = 1e6 ÷ that.',
    saturationTable(results),
    '',
    'Open loop (latency from the scheduled send time: no coordinated omission).',
    openLoopTable(results),
    ...dspSummary(results),
    '',
  ].join('\n')
}

// ---------------------------------------------------------------------------------------------
// Entry

function parseOptions() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      duration: { type: 'string' },
      scenario: { type: 'string' },
      json: { type: 'string' },
      list: { type: 'boolean', default: false },
    },
    strict: true,
  })
  const canPin = cpus().length >= 2 && hasTaskset()
  const durationS = values.duration === undefined ? (values.quick ? 2 : 10) : Number(values.duration)
  if (!(durationS > 0)) throw new Error('--duration must be a number of seconds > 0')
  const options: RunOptions = {
    warmupS: values.quick ? 1 : 3,
    durationS,
    connections: 64,
    loads: [0.25, 0.5, 0.75],
    quietWaitS: values.quick ? 0.5 : 10,
    retries: values.quick ? 0 : 2,
    generatorWarmupS: values.quick ? 0.3 : 1,
    canPin,
  }
  const names = values.scenario?.split(',').map((n) => n.trim())
  const unknown = names?.filter((n) => !SCENARIOS.some((s) => s.name === n)) ?? []
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')} (have ${scenarioNames()})`)
  const scenarios =
    names === undefined
      ? SCENARIOS.filter((s) => s.isDefault)
      : SCENARIOS.filter((s) => names.includes(s.name))
  return { options, scenarios, jsonPath: values.json ?? null, isList: values.list }
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
  const { options, scenarios, jsonPath, isList } = parseOptions()
  if (isList) {
    for (const s of SCENARIOS)
      console.log(`${s.name.padEnd(20)} ${s.isDefault ? 'default ' : 'optional'} ${s.about}`)
    return 0
  }
  checkBuilt(scenarios)
  const machine = machineInfo(options.canPin)
  // Keep this orchestrator off the server's core too.
  if (options.canPin)
    execFileSync('taskset', ['-p', '-c', CLIENT_CORE, String(process.pid)], { stdio: 'ignore' })
  const startedAt = Date.now()
  const results: ScenarioResult[] = []
  for (const s of scenarios) results.push(await runScenario(s, options))
  console.log(report(machine, options, results))
  progress(`done in ${Math.round((Date.now() - startedAt) / 1000)} s`)
  if (jsonPath !== null) {
    writeFileSync(jsonPath, `${JSON.stringify({ machine, options, scenarios: results }, null, 2)}\n`)
    progress(`results written to ${jsonPath}`)
  }
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
