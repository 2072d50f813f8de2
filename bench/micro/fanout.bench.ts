/**
 * The fan-out's CPU per DSP call, through each DSP transport and against bare clients making the
 * same calls in the same run. 10 simulated DSPs with log-normal latencies run in a child process
 * (src/demo/simulated-dsp-main.ts); this process offers auctions at a fixed rate (open loop) to:
 * - the real bid stage (shaping, one serialisation, one timer per auction, parsing, metrics) on the
 *   socket transport, and on the undici transport (Pool.dispatch);
 * - bare undici: `pool.request` + `body.text()` + JSON.parse, an AbortController and one timer per
 *   auction (what the research prototype measured);
 * - the bare socket transport: the same calls with no shaping, adapters or metrics;
 * - the harness alone: the load loop (a 1 ms interval and a request object per auction) making no
 *   call; its CPU, spread over the same 10 calls per auction, is what every other line includes
 *   without it being the exchange's, and "net" lines subtract it round by round.
 * CPU is `process.cpuUsage()` (user + system, all threads) over each timed round divided by the DSP
 * calls made; rounds interleave the clients, starting from a different one each round.
 * Target: ≤ 25 µs of CPU per DSP call for the bid stage.
 * Run: `npx tsc -p tsconfig.json && node dist/bench/micro/fanout.bench.js [--seconds 5] [--rounds 3]
 * [--rate 1000] [--only socket,undici,bare,bare-socket,harness]` (on a 2-core machine,
 * `taskset -c 0 node …` keeps it off the DSPs' core). Auctions/s per core is the capacity the CPU
 * cost implies: 1e6 / (CPU µs per auction).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Pool } from 'undici'
import type { DspConfig, DspTransportName } from '../../src/config/config.js'
import type { DspMetrics } from '../../src/metrics/metrics.js'
import { ExchangeMetrics } from '../../src/metrics/metrics.js'
import type { BidRequest } from '../../src/openrtb/types.js'
import { AuctionContext } from '../../src/pipeline/auction-context.js'
import { Deadline } from '../../src/pipeline/deadline.js'
import { createBidStage } from '../../src/stages/bid/bid-stage.js'
import { DspCall } from '../../src/stages/bid/dsp-call.js'
import { closeDspPools, createDspEndpoints, warmDspPools } from '../../src/stages/bid/dsp-endpoints.js'
import { createTrafficShaper, DEFAULT_SHAPING } from '../../src/stages/bid/traffic-shaper.js'
import { SocketTransport } from '../../src/stages/bid/transport/socket-transport.js'

const DSP_COUNT = 10
/** Median answer times (ms) of the simulated DSPs; log-normal with sigma 0.5 around them. */
const MEDIANS_MS = [1, 2, 3, 4, 5, 6, 8, 10, 12, 15]
const BUDGET_MS = 95
const CONNECTIONS = 64

interface Options {
  readonly seconds: number
  readonly rounds: number
  /** Auctions offered per second. */
  readonly rate: number
}

interface RoundResult {
  readonly auctionsPerS: number
  readonly cpuUsPerCall: number
  /** The kernel's share of it (system time: socket writes and reads). */
  readonly systemUsPerCall: number
  readonly cpuUsPerAuction: number
  readonly callsPerAuction: number
}

/** One auction's worth of work; resolves with the number of DSP calls made. */
type RunAuction = (request: BidRequest) => Promise<number>

interface Client {
  readonly run: RunAuction
  /** What went wrong over the whole run (timeouts, failures, reconnects), if the client knows. */
  readonly note?: () => Promise<string>
  readonly close: () => Promise<void>
}

function request(n: number): BidRequest {
  return {
    id: `bench-${n}`,
    imp: [
      {
        id: '1',
        banner: {
          format: [
            { w: 300, h: 250 },
            { w: 320, h: 50 },
          ],
        },
        bidfloor: 0.1,
      },
    ],
    site: {
      domain: 'news.example',
      page: 'https://news.example/articles/2026/11/a-long-enough-path-to-look-real',
      publisher: { id: 'pub-1', name: 'News Example' },
      cat: ['IAB12'],
    },
    device: {
      ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 Safari/537.36',
      ip: '203.0.113.9',
      geo: { country: 'USA', region: 'CA', city: 'San Francisco' },
      devicetype: 2,
      language: 'en',
    },
    user: { id: 'user-0123456789abcdef', buyeruid: 'buyer-abc' },
    regs: { gdpr: 0, us_privacy: '1---' },
    at: 1,
    tmax: 100,
  } as BidRequest
}

/** Starts the simulated DSPs in a child process; resolves with their URLs once all listen. */
async function startDsps(): Promise<{ child: ChildProcess; urls: string[] }> {
  const specs = MEDIANS_MS.map((median, i) => ({
    id: `sim-${i}`,
    port: 0,
    latencyMs: { median, sigma: 0.5 },
    bidRate: 0.5,
    priceCpm: { min: 0.2, max: 3 },
    seed: i + 1,
  }))
  const main = fileURLToPath(new URL('../../src/demo/simulated-dsp-main.js', import.meta.url))
  const child = spawn(process.execPath, [main, '--specs-json', JSON.stringify(specs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const urls: string[] = []
  const lines = createInterface({ input: child.stdout! })
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`simulated DSPs exited with ${code}`)))
    lines.on('line', (line) => {
      const url = /listening on (\S+?):? /.exec(line)?.[1]
      if (url !== undefined) urls.push(url)
      if (urls.length === DSP_COUNT) resolve()
    })
  })
  child.removeAllListeners('exit')
  // Even when this process dies of an uncaught error, the DSPs must not outlive it.
  process.once('exit', () => child.kill('SIGTERM'))
  return { child, urls }
}

function dspConfigs(urls: readonly string[]): DspConfig[] {
  return urls.map((endpoint, i) => ({
    id: `sim-${i}`,
    endpoint,
    timeoutMs: BUDGET_MS,
    maxQps: 0,
    connections: CONNECTIONS,
    seat: `sim-${i}`,
    gzipRequest: false,
    maxResponseBytes: 256 * 1024,
  }))
}

/** The bid stage as the exchange runs it, on the given transport. */
async function bidStageClient(urls: readonly string[], transport: DspTransportName): Promise<Client> {
  const configs = dspConfigs(urls)
  const metrics = new ExchangeMetrics(
    configs.map((c) => c.id),
    { defaultMetrics: false },
  )
  const endpoints = createDspEndpoints(configs, (id) => metrics.dsps.get(id)!, { transport })
  await warmDspPools(endpoints)
  let id = 0
  // Deadline feasibility off (an estimate never trusted): on a loaded machine the simulated DSPs look
  // slow and the shaper would skip them, and the two clients would no longer make the same calls.
  const shaping = {
    ...DEFAULT_SHAPING,
    latency: { ...DEFAULT_SHAPING.latency, minWeight: Number.POSITIVE_INFINITY },
  }
  const stage = createBidStage({
    shaper: createTrafficShaper(endpoints, { minDspBudgetMs: 5 }, shaping),
    dsps: endpoints,
    identity: { asi: 'exchange.example', currency: 'USD' },
    settings: { currency: 'USD', networkBufferMs: 5, minDspBudgetMs: 5 },
    houseSeat: 'house',
    nextId: () => `t${++id}`,
    onHouseBid: () => {},
  })
  return {
    async run(req) {
      const now = performance.now()
      const ctx = new AuctionContext(req, new Deadline(now, BUDGET_MS), now)
      const result = stage.run(ctx)
      if (result instanceof Promise) await result
      return ctx.dspCalls
    },
    async note() {
      const outcomes = await metrics.registry.getSingleMetric('rtb_dsp_requests_total')!.get()
      const counts: Record<string, number> = {}
      for (const v of outcomes.values) {
        const outcome = String(v.labels['outcome'])
        counts[outcome] = (counts[outcome] ?? 0) + v.value
      }
      const failures = Object.entries(counts)
        .filter(([k, n]) => k !== 'bid' && k !== 'no_bid' && n > 0)
        .map(([k, n]) => `${k} ${n}`)
      const sockets = endpoints.map((e) => e.transport).filter((t) => t instanceof SocketTransport)
      const total = (key: keyof SocketTransport['stats']): number =>
        sockets.reduce((sum, t) => sum + t.stats[key], 0)
      const calls = Object.values(counts).reduce((sum, n) => sum + n, 0)
      return (
        `${calls} calls; failures: ${failures.length === 0 ? 'none' : failures.join(', ')}` +
        (sockets.length > 0
          ? `; connections opened ${total('opened')} (closed by the DSP ${total('closedByPeer')}, ` +
            `by us ${total('closedByUs')}), requests retried ${total('retried')}`
          : '')
      )
    },
    close: () => closeDspPools(endpoints),
  }
}

/** What the research prototype measured: Pool.request, body.text(), JSON.parse, one AbortController. */
async function bareUndiciClient(urls: readonly string[]): Promise<Client> {
  const targets = urls.map((u) => {
    const url = new URL(u)
    return { pool: new Pool(url.origin, { connections: CONNECTIONS, pipelining: 1 }), path: url.pathname }
  })
  const headers = { 'content-type': 'application/json', 'x-openrtb-version': '2.6' }
  const callOne = async (t: (typeof targets)[number], body: string, signal: AbortSignal): Promise<number> => {
    try {
      const res = await t.pool.request({ method: 'POST', path: t.path, headers, body, signal })
      const text = await res.body.text()
      if (res.statusCode !== 200) return 0
      const parsed = JSON.parse(text) as { seatbid?: unknown[] }
      return parsed.seatbid?.length ?? 0
    } catch {
      return 0
    }
  }
  return {
    async run(req) {
      const controller = new AbortController()
      const timer = setTimeout(() => controller.abort(), BUDGET_MS)
      const body = JSON.stringify({ ...req, tmax: BUDGET_MS - 5 })
      await Promise.all(targets.map((t) => callOne(t, body, controller.signal)))
      clearTimeout(timer)
      return targets.length
    },
    close: () => Promise.all(targets.map((t) => t.pool.close())).then(() => undefined),
  }
}

/**
 * The socket transport alone, used like the bare undici client: one JSON.stringify per auction,
 * JSON.parse of each 200 body, one timer per auction, no shaping, adapters or metrics. The
 * difference to the bid stage on the same transport is what the bid stage itself costs.
 */
async function bareSocketClient(urls: readonly string[]): Promise<Client> {
  const configs = dspConfigs(urls)
  const endpoints = createDspEndpoints(configs, () => ({}) as DspMetrics, { transport: 'socket' })
  await warmDspPools(endpoints)
  class Auction {
    pending = endpoints.length
    bids = 0
    resolve: (calls: number) => void = () => {}
    readonly calls: DspCall[] = []
    settle(call: DspCall): void {
      if (call.status === 200 && call.body !== null) {
        const parsed = JSON.parse(call.body) as { seatbid?: unknown[] }
        this.bids += parsed.seatbid?.length ?? 0
      }
      if (--this.pending === 0) this.resolve(endpoints.length)
    }
  }
  const expireAll = (a: Auction): void => {
    for (const call of a.calls) call.expire(false)
  }
  return {
    run(req) {
      const auction = new Auction()
      const body = Buffer.from(JSON.stringify({ ...req, tmax: BUDGET_MS - 5 }))
      const now = performance.now()
      const done = new Promise<number>((resolve) => (auction.resolve = resolve))
      const timer = setTimeout(expireAll, BUDGET_MS, auction)
      for (const dsp of endpoints) {
        const call = new DspCall(auction, dsp, 0, now, now + BUDGET_MS)
        auction.calls.push(call)
        dsp.transport.send(body, call)
      }
      return done.then((n) => {
        clearTimeout(timer)
        return n
      })
    },
    close: () => closeDspPools(endpoints),
  }
}

/** The load loop with nothing behind it: counts as DSP_COUNT calls per auction, makes none. */
async function harnessAlone(): Promise<Client> {
  return { run: () => Promise.resolve(DSP_COUNT), close: () => Promise.resolve() }
}

/**
 * Offers `rate` auctions per second for `seconds` (open loop, as traffic arrives at an exchange;
 * a closed loop would spin on auctions that call no DSP), then waits for the last to settle.
 * CPU and counts are taken over that span only.
 */
async function round(run: RunAuction, options: Options): Promise<RoundResult> {
  let auctions = 0
  let calls = 0
  let offered = 0
  let pending = 0
  let isStopped = false
  const durationMs = options.seconds * 1000
  const cpuBefore = process.cpuUsage()
  const startedAt = performance.now()
  await new Promise<void>((resolve) => {
    const settled = (made: number): void => {
      calls += made
      auctions++
      if (--pending === 0 && isStopped) resolve()
    }
    const timer = setInterval(() => {
      const elapsedMs = performance.now() - startedAt
      const due = (Math.min(elapsedMs, durationMs) * options.rate) / 1000
      for (; offered < due; offered++) {
        pending++
        run(request(offered)).then(settled)
      }
      if (elapsedMs < durationMs) return
      clearInterval(timer)
      isStopped = true
      if (pending === 0) resolve()
    }, 1)
  })
  const cpu = process.cpuUsage(cpuBefore)
  const elapsedS = (performance.now() - startedAt) / 1000
  const cpuUs = cpu.user + cpu.system
  return {
    auctionsPerS: auctions / elapsedS,
    cpuUsPerCall: cpuUs / calls,
    systemUsPerCall: cpu.system / calls,
    cpuUsPerAuction: cpuUs / auctions,
    callsPerAuction: calls / auctions,
  }
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[sorted.length >> 1]!
}

function summary(name: string, results: readonly RoundResult[]): string {
  const cpu = results.map((r) => r.cpuUsPerCall)
  const perAuction = median(results.map((r) => r.cpuUsPerAuction))
  return (
    `${name.padEnd(36)} ${median(cpu).toFixed(1).padStart(6)} µs CPU/call ` +
    `(${Math.min(...cpu).toFixed(1)}–${Math.max(...cpu).toFixed(1)}; ` +
    `kernel ${median(results.map((r) => r.systemUsPerCall)).toFixed(1)})  ` +
    `${perAuction.toFixed(0).padStart(5)} µs CPU/auction = ${(1e6 / perAuction).toFixed(0).padStart(5)} auctions/s per core  ` +
    `(ran ${median(results.map((r) => r.auctionsPerS)).toFixed(0)}/s, ` +
    `${median(results.map((r) => r.callsPerAuction)).toFixed(1)} calls/auction)`
  )
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '3' },
      rate: { type: 'string', default: '1000' },
      only: { type: 'string' },
    },
  })
  const options: Options = {
    seconds: Number(values.seconds),
    rounds: Number(values.rounds),
    rate: Number(values.rate),
  }
  const { child, urls } = await startDsps()
  try {
    const all = [
      { key: 'socket', name: 'bid stage, socket transport', start: () => bidStageClient(urls, 'socket') },
      { key: 'undici', name: 'bid stage, undici transport', start: () => bidStageClient(urls, 'undici') },
      { key: 'bare', name: 'bare undici Pool.request', start: () => bareUndiciClient(urls) },
      { key: 'bare-socket', name: 'bare socket transport', start: () => bareSocketClient(urls) },
      { key: 'harness', name: 'harness alone (no call)', start: harnessAlone },
    ]
    const only = values.only?.split(',')
    const clients = []
    for (const c of all)
      if (only === undefined || only.includes(c.key)) clients.push({ ...c, ...(await c.start()) })
    // Warm-up: JIT and connections for all.
    for (const c of clients) await round(c.run, { ...options, seconds: 2 })
    const results = clients.map((): RoundResult[] => [])
    // Interleaved, starting from a different client each round: drifts in machine load hit all alike.
    for (let r = 0; r < options.rounds; r++) {
      for (let k = 0; k < clients.length; k++) {
        const i = (r + k) % clients.length
        results[i]!.push(await round(clients[i]!.run, options))
      }
    }
    console.log(
      `fan-out to ${DSP_COUNT} simulated DSPs (log-normal, medians ${MEDIANS_MS.join('/')} ms, σ 0.5), ` +
        `${options.rate} auctions/s offered, ${options.rounds} rounds × ${options.seconds} s, medians (min–max)`,
    )
    for (const [i, c] of clients.entries()) console.log(summary(c.name, results[i]!))
    const harness = results[clients.findIndex((c) => c.key === 'harness')]
    if (harness !== undefined) {
      for (const [i, c] of clients.entries()) {
        if (c.key === 'harness') continue
        const net = results[i]!.map((r, round) => r.cpuUsPerCall - harness[round]!.cpuUsPerCall)
        console.log(
          `  net of the harness, ${c.name.padEnd(30)} ${median(net).toFixed(1).padStart(6)} µs CPU/call ` +
            `(${Math.min(...net).toFixed(1)}–${Math.max(...net).toFixed(1)})`,
        )
      }
    }
    for (const c of clients) if (c.note !== undefined) console.log(`  ${c.name}: ${await c.note()}`)
    for (const c of clients) await c.close()
  } finally {
    child.kill('SIGTERM')
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
