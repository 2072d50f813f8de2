import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { test } from 'node:test'
import { impressionCostMicros } from '../pacing/campaign.js'
import { peekClaims } from '../pacing/notice-token.js'
import { houseAd, TEST_ADMIN_TOKEN, TEST_NOTICE_SECRET } from '../pacing/pacing-test-kit.js'
import { type ChildExchange, startChildExchange } from '../testing/child-exchange.js'
import { skipUnlessRedis } from '../testing/redis-server.js'
import { GC_LINE_PREFIX, gcPauses, LoopTurns, pausedWithinMs, ThreadClocks } from './cpu-wait.js'
import { type FaultDsp, type FaultKind, HEALTHY, startFaultDsp } from './fault-dsp.js'
import { type AnswerRecord, growFdTable, Notifier, Sender } from './fault-load.js'
import { type PersistentRedis, startPersistentRedis } from './fault-redis.js'
import { countAbove, requiredSample, sampleValue } from './invariants.js'

/**
 * The fault suite (end to end, real processes): one exchange process on a real redis-server (the
 * Dragonfly stand-in), seven node:http DSPs in this process, and a steady open-loop auction load
 * that runs from the first phase to the last while the faults change under it:
 *
 *   baseline → DSP hangs → DSP trickles → DSP resets mid-body → DSP garbage → DSP huge bodies →
 *   store paused (SIGSTOP, then SIGCONT) → store killed (SIGKILL, restarted on the same port) →
 *   overload at 3× measured capacity (a burst; 503 sheds are fine) → recovery.
 *
 * Each fault phase has its own DSP, healthy before and after, that misbehaves on 40% of its calls
 * (in every variant of the fault in turn: see fault-dsp.ts); 40% stays under the circuit breaker's
 * 50% so the faults keep coming for the whole phase (the error throttle still cuts its share).
 * Every winner's billing notice (`burl`) is fired as an SSP would, 25% of them twice, 503 answers
 * retried. Checked throughout and at the end:
 * - every answer is 200, 204 or 503;
 * - deadlines, on both clocks, net of what the machine and the garbage collector did to the
 *   processes (see DEADLINES): by the exchange's own histogram nothing above tmax + 5 ms that its
 *   waits for a CPU and GC pauses cannot account for; by this process's clock every answer within
 *   tmax + CLIENT_SLACK_MS plus those and the time it waited to be read here;
 * - the exchange never exits, and prints no unhandled rejection, uncaught exception or stack trace;
 * - every billing notice fired is counted exactly once (metrics and the campaign ledger), its
 *   duplicates answered 204 without a count, nothing refused, every DSP's own URL called once;
 * - committed spend ≤ budget (the small campaign is exhausted during the run), nothing left reserved;
 * - after recovery: no auction left in flight, RSS within RSS_FACTOR × baseline + RSS_SLACK_MB.
 *
 * Part of `npm test` in its quick mode (~40 s: phases of 3 s at 150 req/s); FAULT_LONG=1 for
 * longer phases at a higher rate (~3 min).
 */
const LONG = process.env['FAULT_LONG'] === '1'
const S = LONG
  ? { rate: 400, phaseMs: 15_000, storeDownMs: 5_000, probeMs: 2_000, burstMs: 8_000, maxInFlight: 96 }
  : { rate: 150, phaseMs: 3_000, storeDownMs: 1_500, probeMs: 1_000, burstMs: 2_000, maxInFlight: 32 }

const TMAX_MS = 70
/*
 * DEADLINES. The exchange plans every auction to end by tmax − responseReserveMs (2 ms), sooner
 * under load (LoadShedder.deadlineSlackMs), and sheds at the door what it cannot serve in time.
 * What it cannot plan for: a machine that takes the CPU away (on a shared 2-core machine, CI or a
 * laptop running benchmarks, a process can be runnable and not run for 100 ms and more), and its
 * own garbage collector, which stops the event loop for as long as it takes (10-30 ms pauses under
 * this suite's load). So each request carries the kernel's counters (cpu-wait.ts) of the
 * exchange's main thread and of this process's, read when it is written and again when its answer
 * is read; the exchange logs its GC pauses (gc-log.ts, preloaded); and lateness is held to what
 * those cannot account for (a wait or a pause delays an answer by at most its own length):
 * - The exchange's clock (`rtb_auction_duration_seconds`, from its handler to its write) is the
 *   reference. An answer it puts x ms over tmax + 5 ms (SERVER_BUCKET) was read here more than
 *   tmax + 5 + x ms after it was sent and, if it was not the exchange's deadline logic, the
 *   exchange waited for a CPU or collected garbage more than x ms in between (or blocked on a
 *   major page fault). The histogram does not say which answers were late, so it is counted per
 *   phase and per bucket edge x ∈ {0, 25, 75, 175} ms: answers above tmax + 5 + x ≤ answers read
 *   in that phase that satisfy both conditions. Where the exchange always had a CPU and collected
 *   nothing, there are none, and any late answer fails.
 * - This process's clock, every answer: latency − tmax ≤ CLIENT_SLACK_MS + the exchange's wait and
 *   GC pauses in its window + how long the answer can have waited for this process's event loop to
 *   read it (LoopTurns: whatever kept the loop busy or off a CPU), unless either thread took a
 *   major page fault in it (blocked on a disk read: this machine's memory manager pages out code
 *   idle for seconds).
 * Answers that only a GC pause accounts for are counted and reported (the table's diagnostics).
 */
/** tmax + 5 ms (responseReserveMs 2 ms + a late timer and the write): a bucket of the histogram. */
const SERVER_BUCKET = '0.075'
/**
 * The exchange's event-loop lag threshold (its production default), and the lag it does not plan
 * for by design: below a quarter of the threshold a deadline does not come in (load-shedder.ts).
 */
const MAX_LAG_MS = 20
const UNPLANNED_LAG_MS = MAX_LAG_MS / 4
/**
 * This process's clock, over tmax and everything the counters account for: the exchange's own
 * margin (SERVER_BUCKET), the time a request may wait in its socket for a loop lagging less than
 * UNPLANNED_LAG_MS (before the handler, so not on the exchange's clock), and 5 ms for loopback
 * both ways and the kernel's own work (softirqs, wake-ups), which no thread's counters show.
 */
const CLIENT_SLACK_MS = Number(SERVER_BUCKET) * 1000 - TMAX_MS + UNPLANNED_LAG_MS + 5
/** Bucket edges of the exchange's histogram above SERVER_BUCKET, checked in turn (see DEADLINES). */
const LATE_EDGES = [SERVER_BUCKET, '0.1', '0.15', '0.25']
const LATE_EDGES_MS = LATE_EDGES.map((le) => Math.round(Number(le) * 1000))
const SERVER_MARGIN_MS = LATE_EDGES_MS[0]! - TMAX_MS
/**
 * RSS after recovery may exceed the baseline: V8 keeps the heap it grew during the 3× burst and
 * malloc keeps its arenas, neither given back promptly. 1.5× + 30 MiB is room for that, not for
 * per-request retention: the run answers ~12k auctions and ~5k notices, so a leak of a few KiB
 * each (a kept request or context) shows.
 */
const RSS_FACTOR = 1.5
const RSS_SLACK_MB = 30
const FAULT_SHARE = 0.4
/**
 * A notice whose confirmation was in flight when the store stopped is answered 503 within the
 * pacing store's command timeout (1 s) of the fault's start, or at once when the connection dies;
 * +500 ms for that answer to reach this process on a busy machine.
 */
const CONFIRM_LOSS_WINDOW_MS = 1_500
const ALLOWED = new Set([200, 204, 503])

/** First price (at=1) everywhere: a house impression costs exactly its CPM / 1000. */
const SMALL = { id: 'fault-small', ad: 'ad-small', cpm: 2.5 }
const BIG = { id: 'fault-big', ad: 'ad-big', cpm: 2.0 }
const SMALL_COST = impressionCostMicros(SMALL.cpm * 1_000_000)
const BIG_COST = impressionCostMicros(BIG.cpm * 1_000_000)
/**
 * The good DSP bids on 70% of requests above both house ads; the house ads win the other 30%,
 * the small campaign while it lasts: sized to run out about a third of the way through.
 */
const SMALL_IMPRESSIONS = Math.round(S.rate * 0.3 * ((S.phaseMs * 10) / 1000) * 0.3)
const SMALL_BUDGET = SMALL_IMPRESSIONS * SMALL_COST
const BIG_BUDGET = 1_000_000_000

const FAULT_PHASES: readonly FaultKind[] = ['hang', 'trickle', 'reset', 'garbage', 'huge']
/** The exchange's DSP outcome that shows each fault was met (rtb_dsp_requests_total). */
const FAULT_OUTCOMES: Readonly<Record<FaultKind, readonly string[]>> = {
  hang: ['timeout'],
  trickle: ['timeout'],
  reset: ['network'],
  garbage: ['bad_response', 'http_status', 'network', 'adapter_threw'],
  huge: ['too_large'],
}

interface PhaseStats {
  sent: number
  readonly status: Map<number, number>
  readonly latencies: number[]
  late: number
  maxLagMs: number
  /** Filled when the phase ends: the exchange's histogram above each of LATE_EDGES. */
  serverAbove: number[]
  /** The allowance for serverAbove (see DEADLINES), from the answers read in this phase's scrape window. */
  serverAccounted: number[]
  /** The scrape window (see scrapeWindow) whose histogram delta is this phase's; -1 for sub-phases. */
  window: number
  /** Of accountedLate, answers that only the exchange's GC pauses in their window account for. */
  gcLate: number
  /** The exchange's histogram above tmax + 5 ms, by bucket: `≤100:3 ≤150:1`. */
  serverLateBuckets: string
  /** The exchange's own event-loop lag max (prom-client, reset at each scrape) and its GCs over 10 ms. */
  exchangeLagMaxMs: number
  exchangeSlowGcs: number
  /** The exchange's main thread over the phase: CPU time, and time runnable but waiting for a CPU. */
  exchangeCpuMs: number
  exchangeWaitMs: number
  /** The whole machine's CPU use over the phase (all cores, %), other sessions' processes included. */
  machineBusyPct: number
  /** This process (load, DSPs, notices) over the phase. */
  testCpuMs: number
  /** When the late answers (client clock) arrived, ms into the phase, and how late: the first few. */
  readonly lateSamples: string[]
  /** Answers past tmax + CLIENT_SLACK_MS that the counters account for (see DEADLINES). */
  accountedLate: number
  /** Of those, answers with a major page fault of either thread in their window. */
  pageFaulted: number
  /** The most lateness (ms over tmax) left unaccounted (DEADLINES), over this phase's answers over tmax + 5 ms. */
  maxUnaccountedMs: number
  clientLoopP99Ms: number
  note: string
}

/** An answer later than tmax + 5 ms, and what the machine did to both processes in its window. */
interface LateAnswer {
  readonly phase: string
  /** The scrape window it was read in (see scrapeWindow). */
  readonly window: number
  readonly status: number
  readonly sentAt: number
  readonly latencyMs: number
  /** When it was read, into its phase (for the report). */
  readonly at: string
  readonly exchangeWaitMs: number
  readonly exchangeCpuMs: number
  readonly readDelayMs: number
  readonly isPageFaulted: boolean
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!
}

const HISTOGRAM = 'rtb_auction_duration_seconds'

/** Answers above SERVER_BUCKET between two scrapes, by bucket of the exchange's histogram. */
function lateBuckets(before: string, after: string): string {
  const at = (text: string, le: string) => requiredSample(text, `${HISTOGRAM}_bucket`, { le })
  const parts: string[] = []
  const edges = [...LATE_EDGES, '+Inf']
  for (let i = 1; i < edges.length; i++) {
    const n = (text: string) => at(text, edges[i]!) - at(text, edges[i - 1]!)
    const count = n(after) - n(before)
    if (count > 0) parts.push(`≤${edges[i] === '+Inf' ? 'inf' : Number(edges[i]) * 1000}:${count}`)
  }
  return parts.join(' ')
}

/** Garbage collections that took over 10 ms (all kinds), from prom-client's GC histogram. */
function slowGcs(text: string): number {
  let n = 0
  for (const kind of ['major', 'minor', 'incremental', 'weakcb']) {
    n +=
      sampleValue(text, 'nodejs_gc_duration_seconds_bucket', { kind, le: '+Inf' }) -
      sampleValue(text, 'nodejs_gc_duration_seconds_bucket', { kind, le: '0.01' })
  }
  return n
}

/** [CPU ns, run-queue wait ns] of a thread, from /proc/<pid>/schedstat. */
function schedstat(pid: number): [number, number] {
  const [cpu = 0, wait = 0] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ').map(Number)
  return [cpu, wait]
}

/** [busy, total] jiffies of all CPUs, from /proc/stat. */
function machineCpu(): [number, number] {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  const total = fields.reduce((a, b) => a + b, 0)
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0)
  return [total - idle, total]
}

/** Read once: availableParallelism() counts only the cores this process may run on, pinned or not. */
const CORES = availableParallelism()

/**
 * Pins the threads of process `pid` to `cores` (taskset), or only thread `pid` when `isOneThread`.
 * The exchange's event loop gets core 0 to itself; its other threads (V8's GC helpers, libuv's
 * pool), the load, the DSPs and redis-server share core 1: separate machines, as far as two cores
 * go, and the exchange's run-queue wait on core 0 is then other processes' doing, never its own
 * helpers' (with them on its core, a parallel GC would queue behind the event loop). False when
 * taskset is missing or there are fewer than 2 cores (the run is then unpinned, and says so).
 */
function pin(pid: number, cores: string, isOneThread = false): boolean {
  if (CORES < 2) return false
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      // Fails now and then when a thread starts or ends while taskset walks them: tried again.
      const args = isOneThread ? ['-p', '-c', cores, String(pid)] : ['-a', '-p', '-c', cores, String(pid)]
      execFileSync('taskset', args, { stdio: 'ignore' })
      return true
    } catch {
      // again
    }
  }
  return false
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : Number.NaN
}

async function metrics(ex: ChildExchange): Promise<string> {
  return (await fetch(`${ex.url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text()
}

/** One auction request; ids and users vary so decoration keeps going to the store. */
function auctionBody(phase: string, n: number): string {
  return JSON.stringify({
    id: `${phase}-${n}`,
    at: 1,
    tmax: TMAX_MS,
    imp: [{ id: '1', banner: { format: [{ w: 300, h: 250 }] } }],
    site: {
      domain: 'news.example',
      page: `https://news.example/p${n % 200}`,
      publisher: { id: 'pub-1' },
    },
    device: { ua: 'Mozilla/5.0', ip: '203.0.113.9', geo: { country: 'USA' } },
    user: { id: `u-${(n * 7) % 5_000}` },
  })
}

interface CampaignView {
  delivery: { spentMicros: number; impressions: number } | null
  budgetLeft: { lifetimeMicros: number | null }
  leases: { leasedMicros: number } | null
}

test('fault suite: DSP faults, store pause/kill, 3× overload under steady load', {
  timeout: LONG ? 900_000 : 180_000,
}, async (t) => {
  if (!skipUnlessRedis(t)) return
  const startedAt = performance.now()
  const redis: PersistentRedis = await startPersistentRedis()
  t.after(() => redis.stop())

  const good = await startFaultDsp({ id: 'good', price: 3.0, bidRate: 0.7 })
  const faulty = new Map<FaultKind, FaultDsp>()
  for (const [i, kind] of FAULT_PHASES.entries()) {
    faulty.set(kind, await startFaultDsp({ id: `f-${kind}`, price: 1.0 + i * 0.1, bidRate: 0.5 }))
  }
  const dsps = [good, ...faulty.values()]
  t.after(() => Promise.all(dsps.map((d) => d.close())))

  const dir = mkdtempSync(join(tmpdir(), 'fault-suite-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const seedPath = join(dir, 'seed.json')
  writeFileSync(
    seedPath,
    JSON.stringify({ ads: [houseAd(SMALL.ad, SMALL.id, '2.50'), houseAd(BIG.ad, BIG.id, '2.00')] }),
  )
  const ex = await startChildExchange(
    {
      seed: seedPath,
      auction: { defaultTmaxMs: TMAX_MS, maxTmaxMs: 100 },
      overload: { maxInFlight: S.maxInFlight, maxEventLoopLagMs: MAX_LAG_MS },
      // Short cache lifetimes: decoration keeps asking the store, so its faults reach the request path.
      decoration: { ttlMs: 1_000, negativeTtlMs: 500 },
      pacing: {
        refillIntervalMs: 100,
        paceIntervalMs: 500,
        reservationTtlMs: 60_000,
        leaseTtlMs: 10_000,
        commitGraceMs: 1_000,
        minLeaseImpressions: 5,
        lastMileImpressions: 2,
        leaseFraction: 0.1,
      },
      dsps: dsps.map((d) => ({ id: d.id, endpoint: d.url, timeoutMs: 100, connections: S.maxInFlight })),
    },
    {
      DRAGONFLY_URL: redis.url,
      ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      NOTICE_SECRET: TEST_NOTICE_SECRET,
      LOG_LEVEL: 'info',
      // gc-log.ts: the exchange's GC pauses on its stderr (DEADLINES).
      NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --import=${new URL('./gc-log.js', import.meta.url).href}`,
    },
  )
  t.after(async () => {
    if (ex.child.exitCode === null && ex.child.signalCode === null) {
      ex.kill('SIGKILL')
      await ex.exited
    }
  })
  const pid = ex.child.pid!
  const allCores = `0-${CORES - 1}`
  // The exchange's threads other than its event loop: all there from its start.
  const helperTids = readdirSync(`/proc/${pid}/task`)
    .map(Number)
    .filter((tid) => tid !== pid)
  const pins = [
    pin(pid, '0', true),
    ...helperTids.map((tid) => pin(tid, '1', true)),
    pin(process.pid, '1'),
    pin(redis.pid(), '1'),
  ]
  const isPinned = pins.every(Boolean)
  t.after(() => void pin(process.pid, allCores))
  const isAlive = () => ex.child.exitCode === null && ex.child.signalCode === null
  // Thread 0: the exchange's main thread (its event loop); 1: this process's; unpinned, the
  // exchange's other threads too, which may then share the event loop's core.
  const clocks = new ThreadClocks(
    [
      [pid, pid],
      [process.pid, process.pid],
      ...(isPinned ? [] : helperTids.map((tid) => [pid, tid] as const)),
    ],
    2,
  )
  t.after(() => clocks.close())
  const turns = new LoopTurns()
  t.after(() => turns.stop())

  // Every connection the run will hold at once (the burst's up to 1,000, the load's, the DSP pools')
  // has an fd in the exchange's table before the first phase: see growFdTable.
  await growFdTable(ex.port, pid, 1_500)

  for (const c of [
    { id: SMALL.id, lifetimeBudgetMicros: SMALL_BUDGET },
    { id: BIG.id, lifetimeBudgetMicros: BIG_BUDGET },
  ]) {
    const res = await fetch(`${ex.url}/campaigns`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...c, name: c.id, status: 'active', pacing: 'ASAP', frequencyCaps: [] }),
    })
    assert.equal(res.status, 201, await res.text())
  }

  // ---- Books: every answer and every notice. -------------------------------------------------
  const phases = new Map<string, PhaseStats>()
  const stats = (phase: string): PhaseStats => {
    let s = phases.get(phase)
    if (s === undefined) {
      s = {
        sent: 0,
        status: new Map(),
        latencies: [],
        late: 0,
        maxLagMs: 0,
        serverAbove: LATE_EDGES.map(() => 0),
        serverAccounted: LATE_EDGES.map(() => 0),
        window: -1,
        gcLate: 0,
        serverLateBuckets: '',
        exchangeLagMaxMs: 0,
        exchangeSlowGcs: 0,
        exchangeCpuMs: 0,
        exchangeWaitMs: 0,
        machineBusyPct: 0,
        testCpuMs: 0,
        lateSamples: [],
        accountedLate: 0,
        pageFaulted: 0,
        maxUnaccountedMs: Number.NEGATIVE_INFINITY,
        clientLoopP99Ms: 0,
        note: '',
      }
      phases.set(phase, s)
    }
    return s
  }
  /** Broken invariants by kind: how many times, and the first few examples. */
  const problems = new Map<string, { count: number; examples: string[] }>()
  const problem = (kind: string, example = ''): void => {
    let p = problems.get(kind)
    if (p === undefined) problems.set(kind, (p = { count: 0, examples: [] }))
    p.count++
    if (example !== '' && p.examples.length < 3) p.examples.push(example)
  }
  let undecodable = 0
  /** Start of the phase running now, and what happened in it when (for late answers' context). */
  let phaseStartedAt = performance.now()
  const events: string[] = []
  const event = (what: string): void => {
    events.push(`${what} at +${(performance.now() - phaseStartedAt).toFixed(0)} ms`)
  }
  const at = () => `+${(performance.now() - phaseStartedAt).toFixed(0)} ms`
  /**
   * The allowance for the exchange's histogram (DEADLINES), kept per scrape window: an answer
   * read before a phase's closing scrape is issued was observed by the exchange before it
   * rendered that scrape (it observes as it writes), so it belongs to that phase's delta.
   */
  let scrapeWindow = 0
  /** Answers later than tmax + 5 ms, with what the counters said about their window. */
  const lateAnswers: LateAnswer[] = []
  /** Billing tokens seen in answers: what each costs and whom it bills. */
  const tokens = new Map<
    string,
    { campaignId: string; costMicros: number; isHouse: boolean; auctionId: string; forwards: boolean }
  >()
  /** When the store was unavailable: [from, to] in performance.now() time, by fault. */
  const storeDown: Record<string, [number, number]> = {}
  const notifier = new Notifier({
    base: ex.url,
    duplicateShare: 0.25,
    maxDelayMs: 300,
    retryEveryMs: 250,
    giveUpAfterMs: 30_000,
    concurrency: 32,
  })
  t.after(() => notifier.close())
  let houseWins = 0

  const onAnswer = (r: AnswerRecord): void => {
    const s = stats(r.phase)
    s.sent++
    s.status.set(r.status, (s.status.get(r.status) ?? 0) + 1)
    s.latencies.push(r.latencyMs)
    s.maxLagMs = Math.max(s.maxLagMs, r.lagMs)
    if (!ALLOWED.has(r.status))
      problem(`${r.phase}: status ${r.status}`, `after ${r.latencyMs.toFixed(1)} ms ${r.failure}`)
    if (r.latencyMs > TMAX_MS + SERVER_MARGIN_MS && r.clocksAtSend !== null) {
      // Late on the exchange's scale: what did the machine do to both processes meanwhile? (Judged
      // once the run is over, with the exchange's GC pauses: see DEADLINES.)
      const readDelayMs = turns.readDelayBoundMs()
      const now = clocks.read()
      const was = r.clocksAtSend
      // The exchange's wait for a CPU; unpinned, less what its own other threads ran meanwhile (read
      // only then: they may have shared its core, and time it spent on itself is not the machine's).
      let helpersMs = 0
      for (let i = 6; i < now.length; i += 3) helpersMs += now[i]! - was[i]!
      lateAnswers.push({
        phase: r.phase,
        window: scrapeWindow,
        status: r.status,
        sentAt: r.sentAt,
        latencyMs: r.latencyMs,
        at: at(),
        exchangeWaitMs: Math.max(0, now[1]! - was[1]! - helpersMs),
        exchangeCpuMs: now[0]! - was[0]!,
        readDelayMs,
        isPageFaulted: now[2]! > was[2]! || now[5]! > was[5]!,
      })
    }
    if (r.status !== 200) return
    let body: { seatbid?: { bid?: { burl?: string; adid?: string }[] }[] }
    try {
      body = JSON.parse(r.body) as typeof body
    } catch {
      return problem(`${r.phase}: a 200 whose body is not JSON`, r.body.slice(0, 200))
    }
    for (const bid of (body.seatbid ?? []).flatMap((sb) => sb.bid ?? [])) {
      const burl = typeof bid.burl === 'string' && bid.burl.includes('/notify/billing?t=') ? bid.burl : null
      if (burl === null) {
        problem(`${r.phase}: a winning bid without our billing URL`, JSON.stringify(bid).slice(0, 300))
        continue
      }
      const claims = peekClaims(burl)
      if (claims === null || claims.type !== 'billing') {
        // Fired all the same: what the exchange answers to it is the point.
        problem(`${r.phase}: a billing URL whose token does not decode`, JSON.stringify(bid).slice(0, 300))
        notifier.fire(`undecodable-${undecodable++}`, burl)
        continue
      }
      if (claims.isHouse) houseWins++
      tokens.set(claims.key, {
        campaignId: claims.campaignId,
        costMicros: impressionCostMicros(claims.priceCpmMicros),
        isHouse: claims.isHouse,
        auctionId: claims.auctionId,
        forwards: claims.forwardUrl !== '',
      })
      notifier.fire(claims.key, burl)
    }
  }

  const body = (phase: string, n: number) => auctionBody(phase, n)
  const steady = new Sender({ port: ex.port, connections: 64, body, onAnswer, clocks })
  await steady.start()
  t.after(() => steady.close())

  // ---- Phases. --------------------------------------------------------------------------------
  const loop = monitorEventLoopDelay({ resolution: 5 })
  loop.enable()
  t.after(() => loop.disable())
  let before = await metrics(ex)
  const runPhase = async (name: string, ms: number, during?: () => Promise<string | undefined>) => {
    const s = stats(name)
    steady.setPhase(name)
    loop.reset()
    phaseStartedAt = performance.now()
    const sched0 = schedstat(pid)
    const cpu0 = machineCpu()
    const own0 = process.cpuUsage()
    const phaseEnd = performance.now() + ms
    if (during !== undefined) s.note = (await during()) ?? ''
    await sleep(Math.max(0, phaseEnd - performance.now()))
    s.clientLoopP99Ms = loop.percentile(99) / 1e6
    const sched1 = schedstat(pid)
    const cpu1 = machineCpu()
    s.exchangeCpuMs = (sched1[0] - sched0[0]) / 1e6
    s.exchangeWaitMs = (sched1[1] - sched0[1]) / 1e6
    const own = process.cpuUsage(own0)
    s.testCpuMs = (own.user + own.system) / 1000
    s.machineBusyPct = (100 * (cpu1[0] - cpu0[0])) / Math.max(1, cpu1[1] - cpu0[1])
    s.window = scrapeWindow++
    const after = await metrics(ex)
    s.serverAbove = LATE_EDGES.map(
      (le) => countAbove(after, HISTOGRAM, le) - countAbove(before, HISTOGRAM, le),
    )
    s.serverLateBuckets = lateBuckets(before, after)
    s.exchangeLagMaxMs = requiredSample(after, 'nodejs_eventloop_lag_max_seconds') * 1000
    s.exchangeSlowGcs = slowGcs(after) - slowGcs(before)
    if (!isAlive()) problem(`${name}: the exchange exited`, String(ex.child.exitCode ?? ex.child.signalCode))
    const delta = { before, after }
    before = after
    return delta
  }
  const dspOutcomes = (text: string, dsp: string, outcomes: readonly string[]) =>
    outcomes.reduce((n, outcome) => n + sampleValue(text, 'rtb_dsp_requests_total', { dsp, outcome }), 0)

  // Warm-up: the campaigns are loaded and leased once a house ad wins.
  steady.setPhase('warmup')
  steady.setRate(S.rate)
  const warmGiveUp = performance.now() + 15_000
  while (houseWins === 0) {
    if (performance.now() > warmGiveUp) assert.fail(`no house ad ever won:\n${ex.output()}`)
    await sleep(50)
  }
  await runPhase('warmup', 500)

  await runPhase('baseline', S.phaseMs)
  const baselineRss = rssBytes(pid)

  const exercised: Record<string, string> = {}
  for (const kind of FAULT_PHASES) {
    const dsp = faulty.get(kind)!
    const faultsBefore = [...dsp.stats.faults.values()].reduce((a, b) => a + b, 0)
    dsp.setMode({ delayMs: HEALTHY.delayMs, fault: kind, share: FAULT_SHARE })
    const { before: b, after: a } = await runPhase(`dsp-${kind}`, S.phaseMs)
    dsp.setMode(HEALTHY)
    const faults = [...dsp.stats.faults.values()].reduce((x, y) => x + y, 0) - faultsBefore
    const seen = dspOutcomes(a, dsp.id, FAULT_OUTCOMES[kind]) - dspOutcomes(b, dsp.id, FAULT_OUTCOMES[kind])
    stats(`dsp-${kind}`).note =
      `${faults} faulty answers; exchange saw ${seen} ${FAULT_OUTCOMES[kind].join('/')}`
    exercised[kind] = `${faults}/${seen}`
    assert.ok(faults > 0 && seen > 0, `dsp-${kind}: the fault was never met (${faults} sent, ${seen} seen)`)
  }

  const storeFaults = (text: string) =>
    sampleValue(text, 'rtb_decoration_total', { outcome: 'timeout' }) +
    sampleValue(text, 'rtb_decoration_total', { outcome: 'error' })
  {
    const { before: b, after: a } = await runPhase('store-pause', S.phaseMs, async () => {
      await sleep(S.phaseMs / 6)
      redis.pause()
      const pausedAt = performance.now()
      event('paused')
      await sleep(S.storeDownMs)
      redis.resume()
      storeDown['pause'] = [pausedAt, performance.now()]
      event('resumed')
      return `paused ${S.storeDownMs} ms`
    })
    const seen = storeFaults(a) - storeFaults(b)
    stats('store-pause').note += `; ${seen} decorations timed out/failed`
    assert.ok(seen > 0, 'store-pause: decoration never noticed the paused store')
  }
  {
    const { before: b, after: a } = await runPhase('store-kill', S.phaseMs + 2_000, async () => {
      await sleep(S.phaseMs / 6)
      await redis.kill()
      const killedAt = performance.now()
      event('killed')
      await sleep(S.storeDownMs)
      await redis.restart()
      if (isPinned) pin(redis.pid(), '1')
      event('restarted')
      // Back in service once the exchange's store connections have reconnected.
      const giveUpAt = performance.now() + 10_000
      while (requiredSample(await metrics(ex), 'rtb_store_up') !== 1) {
        if (performance.now() > giveUpAt) return 'the exchange never reconnected'
        await sleep(50)
      }
      storeDown['kill'] = [killedAt, performance.now()]
      event('reconnected')
      return `killed, restarted after ${S.storeDownMs} ms`
    })
    const seen = storeFaults(a) - storeFaults(b)
    stats('store-kill').note += `; ${seen} decorations failed`
    assert.ok(seen > 0, 'store-kill: decoration never noticed the dead store')
    assert.equal(requiredSample(a, 'rtb_store_up'), 1, 'store-kill: the exchange never reconnected')
  }

  let capacity = 0
  let burstRate = 0
  await runPhase('overload', S.probeMs + S.burstMs + 1_500, async () => {
    // Every DSP answers after 40 ms, so each auction holds its in-flight slot that long.
    for (const d of dsps) d.setMode({ delayMs: 40, fault: null, share: 0 })
    await sleep(300)
    // Capacity: what the exchange serves (non-503) with its in-flight slots kept busy. The probe
    // leaves the steady load its share of slots (and two spare): a closed loop that hit the limit
    // would spin on instant 503s and measure the cost of refusing instead.
    const steadyInFlight = Math.ceil((S.rate * 45) / 1000)
    const probe = new Sender({
      port: ex.port,
      connections: Math.max(1, S.maxInFlight - steadyInFlight - 2),
      body,
      onAnswer,
      clocks,
    })
    t.after(() => probe.close())
    await probe.start()
    probe.setPhase('capacity-probe')
    const served = () =>
      [...phases.values()].reduce((n, p) => n + p.sent - (p.status.get(503) ?? 0) - (p.status.get(0) ?? 0), 0)
    const servedBefore = served()
    const probeStart = performance.now()
    probe.closed()
    await sleep(S.probeMs)
    capacity = ((served() - servedBefore) * 1000) / (performance.now() - probeStart)
    await probe.stop()
    probe.close()
    // The burst: 3× capacity offered in all, the steady load included.
    burstRate = Math.max(S.rate, Math.round(3 * capacity - S.rate))
    const burst = new Sender({
      port: ex.port,
      connections: Math.min(1_000, Math.ceil(burstRate * 0.1) + 32),
      body,
      onAnswer,
      clocks,
    })
    t.after(() => burst.close())
    await burst.start()
    burst.setPhase('overload-burst')
    burst.setRate(burstRate)
    await sleep(S.burstMs)
    await burst.stop()
    burst.close()
    for (const d of dsps) d.setMode(HEALTHY)
    return `capacity ${Math.round(capacity)}/s, burst ${burstRate}/s for ${S.burstMs} ms`
  })
  const shed = stats('overload-burst').status.get(503) ?? 0
  assert.ok(shed > 0, `the 3× burst was never shed (${JSON.stringify([...stats('overload-burst').status])})`)

  await runPhase('recovery', S.phaseMs)
  await steady.stop()

  // ---- Settle, then the books. ----------------------------------------------------------------
  await notifier.settled(40_000)
  // Counted DSP billings with a URL of the DSP's own: each must be forwarded to it exactly once.
  const expectedForwards = [...tokens].filter(([k, v]) => v.forwards && notifier.books.get(k)!.accepted > 0)
  const forwardsGiveUp = performance.now() + 10_000
  let text = await metrics(ex)
  const forwardsDone = (m: string) =>
    sampleValue(m, 'rtb_notice_forwards_total', { result: 'ok' }) +
    sampleValue(m, 'rtb_notice_forwards_total', { result: 'failed' })
  // Until every forward is in and nothing is reserved, or nothing has changed for a second (a
  // forward lost as documented below never comes).
  let stableSince = performance.now()
  while (
    (forwardsDone(text) < expectedForwards.length ||
      requiredSample(text, 'rtb_pacing_reserved_micros') > 0) &&
    performance.now() < forwardsGiveUp &&
    performance.now() - stableSince < 1_000
  ) {
    await sleep(100)
    const next = await metrics(ex)
    if (forwardsDone(next) !== forwardsDone(text) || requiredSample(next, 'rtb_pacing_reserved_micros') > 0)
      stableSince = performance.now()
    text = next
  }

  // Deadlines (DEADLINES): each late answer against what the counters and the GC log account for.
  const pauses = gcPauses(ex.output())
  const allowances = new Map<number, number[]>()
  for (const a of lateAnswers) {
    const s = stats(a.phase)
    const end = a.sentAt + a.latencyMs
    const gcMs = pausedWithinMs(pauses, a.sentAt, end)
    const allowance = allowances.get(a.window) ?? LATE_EDGES.map(() => 0)
    allowances.set(a.window, allowance)
    for (const [k, edgeMs] of LATE_EDGES_MS.entries()) {
      const overMs = edgeMs - TMAX_MS - SERVER_MARGIN_MS
      if (a.latencyMs > edgeMs && (a.exchangeWaitMs + gcMs > overMs || a.isPageFaulted)) allowance[k]!++
    }
    const lateMs = a.latencyMs - TMAX_MS
    const unaccountedMs = lateMs - a.exchangeWaitMs - a.readDelayMs - gcMs
    if (!a.isPageFaulted) s.maxUnaccountedMs = Math.max(s.maxUnaccountedMs, unaccountedMs)
    if (lateMs <= CLIENT_SLACK_MS) continue
    if (unaccountedMs <= CLIENT_SLACK_MS || a.isPageFaulted) {
      s.accountedLate++
      if (a.isPageFaulted) s.pageFaulted++
      if (gcMs > 0 && unaccountedMs + gcMs > CLIENT_SLACK_MS) s.gcLate++
    } else {
      s.late++
      if (s.lateSamples.length < 5)
        s.lateSamples.push(
          `${a.status} in ${a.latencyMs.toFixed(1)} ms at ${a.at} (exchange waited ${a.exchangeWaitMs.toFixed(0)} ms, ` +
            `ran ${a.exchangeCpuMs.toFixed(0)} ms, collected garbage ${gcMs.toFixed(0)} ms; ` +
            `read here ≤ ${a.readDelayMs.toFixed(0)} ms after it arrived)`,
        )
    }
  }
  for (const s of phases.values())
    if (s.window >= 0) s.serverAccounted = allowances.get(s.window) ?? s.serverAccounted

  // Per-phase table.
  const subRows = new Set(['capacity-probe', 'overload-burst'])
  const rows = [...phases.entries()].map(([name, s]) => {
    const cell = (text: string) => (subRows.has(name) ? '-'.padStart(text.length) : text)
    const sorted = [...s.latencies].sort((a, b) => a - b)
    const st = (code: number) => s.status.get(code) ?? 0
    const other = s.sent - st(200) - st(204) - st(503)
    return [
      name.padEnd(15),
      String(s.sent).padStart(6),
      String(st(200)).padStart(6),
      String(st(204)).padStart(6),
      String(st(503)).padStart(6),
      String(other).padStart(5),
      percentile(sorted, 0.5).toFixed(1).padStart(6),
      percentile(sorted, 0.99).toFixed(1).padStart(6),
      (sorted.at(-1) ?? Number.NaN).toFixed(1).padStart(6),
      `${s.late}+${s.accountedLate}`.padStart(7),
      (s.maxUnaccountedMs === Number.NEGATIVE_INFINITY ? '-' : s.maxUnaccountedMs.toFixed(0)).padStart(5),
      cell(`${s.serverAbove[0]}/${s.serverAccounted[0]}`.padStart(7)),
      s.maxLagMs.toFixed(1).padStart(6),
      cell(s.clientLoopP99Ms.toFixed(1).padStart(6)),
      cell(s.exchangeLagMaxMs.toFixed(0).padStart(5)),
      cell(String(s.exchangeSlowGcs).padStart(4)),
      cell(s.exchangeCpuMs.toFixed(0).padStart(6)),
      cell(s.exchangeWaitMs.toFixed(0).padStart(5)),
      cell(s.machineBusyPct.toFixed(0).padStart(4)),
      cell(s.testCpuMs.toFixed(0).padStart(6)),
      ` ${s.note}${s.serverLateBuckets === '' ? '' : `; exchange late ${s.serverLateBuckets}`}`,
    ].join(' ')
  })
  t.diagnostic(
    `mode ${LONG ? 'long (FAULT_LONG=1)' : 'quick'}: ${S.rate} req/s steady, phases ${S.phaseMs} ms, tmax ${TMAX_MS} ms, ` +
      `${isPinned ? "exchange's event loop pinned to core 0; its other threads, this process and redis-server to core 1" : 'unpinned'}, ` +
      `late = client > tmax + ${CLIENT_SLACK_MS} ms, unaccounted + accounted for by the counters; ` +
      `srvL = exchange's clock > ${LATE_EDGES_MS[0]} ms / answers its CPU waits account for (DEADLINES)`,
  )
  t.diagnostic(
    `${'phase'.padEnd(15)}   sent    200    204    503 other    p50    p99    max    late unacc    srvL  lagMx loopP99 exLag gc10  exCPU exWait mach% tstCPU`,
  )
  for (const row of rows) t.diagnostic(row)
  for (const [name, s] of phases) {
    const starved = `; the exchange waited ${s.exchangeWaitMs.toFixed(0)} ms for a CPU in its phase`
    if (s.late > 0) {
      problem(
        `${name}: ${s.late} answers later than tmax + ${CLIENT_SLACK_MS} ms + what the machine took from both processes`,
        s.lateSamples.join(', '),
      )
    }
    for (const [k, above] of s.serverAbove.entries()) {
      if (above <= s.serverAccounted[k]!) continue
      // The slowest answers read in that window here, with what their windows held.
      const slowest = lateAnswers
        .filter((a) => a.window === s.window && a.latencyMs > LATE_EDGES_MS[k]!)
        .sort((a, b) => b.latencyMs - a.latencyMs)
        .slice(0, 3)
        .map(
          (a) =>
            `${a.status} in ${a.latencyMs.toFixed(1)} ms at ${a.at} (exchange waited ${a.exchangeWaitMs.toFixed(0)} ms, ` +
            `collected garbage ${pausedWithinMs(pauses, a.sentAt, a.sentAt + a.latencyMs).toFixed(0)} ms)`,
        )
      problem(
        `${name}: ${above} answers above ${LATE_EDGES_MS[k]} ms by the exchange's clock, ` +
          `only ${s.serverAccounted[k]} that its waits for a CPU and GC pauses could account for`,
        `${s.serverLateBuckets}${starved}; slowest here: ${slowest.join(', ') || 'none'}`,
      )
      break
    }
  }

  t.diagnostic(`events: ${events.join(', ')}`)
  const pauseMs = pauses.map(([a, b]) => b - a)
  t.diagnostic(
    `exchange GC: ${pauses.length} pauses, ${pauseMs.filter((ms) => ms >= 10).length} of 10 ms or more, longest ` +
      `${Math.max(0, ...pauseMs).toFixed(1)} ms; answers late only by a GC pause in their window: ` +
      JSON.stringify(
        Object.fromEntries([...phases].filter(([, s]) => s.gcLate > 0).map(([n, s]) => [n, s.gcLate])),
      ),
  )
  for (const d of dsps) {
    if (d.stats.faults.size > 0)
      t.diagnostic(`${d.id}: ${[...d.stats.faults].map(([k, v]) => `${k} ${v}`).join(', ')}`)
  }

  // Notices: each fired token counted once, duplicates answered 204 without a count.
  const books = [...notifier.books]
  const acceptedKeys = books.filter(([, b]) => b.accepted > 0)
  const accepted204 = books.reduce((n, [, b]) => n + b.accepted, 0)
  const fired = books.reduce((n, [, b]) => n + b.fired, 0)
  const retried = books.reduce((n, [, b]) => n + b.retried, 0)
  for (const [key, b] of books) {
    if (b.failures.length > 0)
      problem(`billing notices refused (${b.failures[0]})`, `${key} fired ${b.fired}`)
    else if (b.accepted !== b.fired)
      problem('billing notices not all accepted', `${key}: ${b.accepted}/${b.fired}`)
  }
  const billing = (result: string) => sampleValue(text, 'rtb_notices_total', { type: 'billing', result })
  t.diagnostic(
    `notices: ${books.length} tokens, ${fired} firings (${fired - books.length} duplicates), ${retried} 503s retried; ` +
      `exchange: counted ${billing('counted')}, duplicate ${billing('duplicate')}, store_error ${billing('store_error')}, ` +
      `forged ${billing('forged')}, expired ${billing('expired')}`,
  )
  /*
   * Counted once, in two steps (write, then confirm): a 503 whose write landed is counted by its
   * retry. What the exchange does not promise (README, "Notices") is the follow-up of a notice
   * whose *confirmation* landed while its handler had given up (a confirm in flight when the store
   * stopped: the handler answers 503 after the pacing store's command timeout, the store applies
   * the confirm when it resumes, the retry finds it confirmed and answers 'duplicate'): the money
   * has moved, but `counted`, the frequency counters and the DSP's own URL are lost, never doubled.
   * Such a loss must show as one 'duplicate' more and one 'counted' less, and only for a notice
   * first refused within CONFIRM_LOSS_WINDOW_MS of a store fault's start.
   */
  const confirmLossWindow = (key: string): boolean => {
    const at = notifier.books.get(key)?.first503At ?? 0
    return (
      at > 0 &&
      Object.values(storeDown).some(([from]) => at >= from - 100 && at <= from + CONFIRM_LOSS_WINDOW_MS)
    )
  }
  const counted = billing('counted')
  const lostFollowUps = acceptedKeys.length - counted
  const lossCandidates = acceptedKeys.filter(([k]) => confirmLossWindow(k)).length
  const forwardsOk = sampleValue(text, 'rtb_notice_forwards_total', { result: 'ok' })
  const forwarded = new Set(dsps.flatMap((d) => [...d.stats.forwardKeys.keys()]))
  const unforwarded = expectedForwards.filter(([, v]) => !forwarded.has(v.auctionId))
  const numbers: Record<string, [number, number]> = {
    'billing counted + duplicate (every 204 is one of them)': [counted + billing('duplicate'), accepted204],
    'billing forged': [billing('forged'), 0],
    'billing expired': [billing('expired'), 0],
    'billing invalid': [billing('invalid'), 0],
    'forwards ok + DSP billings not forwarded': [forwardsOk + unforwarded.length, expectedForwards.length],
    'forwards received by DSPs': [dsps.reduce((n, d) => n + d.stats.forwards, 0), forwardsOk],
    'reserved micros left': [requiredSample(text, 'rtb_pacing_reserved_micros'), 0],
    'auctions in flight after the load stopped': [requiredSample(text, 'rtb_auctions_in_flight'), 0],
  }
  for (const [what, [got, want]] of Object.entries(numbers)) {
    if (got !== want) problem(`${what}: ${got}, expected ${want}`)
  }
  if (lostFollowUps < 0) problem(`billing counted ${counted} times for ${acceptedKeys.length} notices`)
  if (lostFollowUps > lossCandidates)
    problem(
      `billing: ${lostFollowUps} accepted notices not counted, only ${lossCandidates} refused at a store fault's start`,
    )
  if (unforwarded.length > Math.max(0, lostFollowUps))
    problem(`DSP billings not forwarded: ${unforwarded.length}, more than the ${lostFollowUps} not counted`)
  for (const [k, v] of unforwarded) {
    if (!confirmLossWindow(k))
      problem(
        'a counted DSP billing never forwarded, not refused at a store fault',
        `${v.auctionId}: first 503 ${notifier.books.get(k)!.first503At === 0 ? 'never' : 'outside the window'}`,
      )
  }
  t.diagnostic(
    `notice follow-ups lost to a confirmation that landed after its handler gave up (documented): ` +
      `${lostFollowUps} (${unforwarded.length} DSP forwards); candidates ${lossCandidates}`,
  )
  for (const d of dsps) {
    for (const [key, n] of d.stats.forwardKeys)
      if (n > 1) problem(`${d.id}: a forward received more than once`, `${key} ×${n}`)
  }

  // Ledger: committed spend is exactly the accepted house billings, and within budget.
  const ledgers: string[] = []
  for (const c of [
    { ...SMALL, budget: SMALL_BUDGET, cost: SMALL_COST },
    { ...BIG, budget: BIG_BUDGET, cost: BIG_COST },
  ]) {
    const res = await fetch(`${ex.url}/campaigns/${c.id}`, {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    })
    const view = (await res.json()) as CampaignView
    const mine = acceptedKeys.filter(([k]) => tokens.get(k)?.campaignId === c.id)
    const spent = mine.reduce((n, [k]) => n + tokens.get(k)!.costMicros, 0)
    const d = view.delivery ?? { spentMicros: 0, impressions: 0 }
    const leased = view.leases?.leasedMicros ?? 0
    ledgers.push(
      `${c.id}: ledger ${d.impressions} imps / ${d.spentMicros} µ, billed ${mine.length} / ${spent} µ, ` +
        `budget ${c.budget}, leased ${leased}, left ${view.budgetLeft.lifetimeMicros}`,
    )
    if (d.impressions !== mine.length)
      problem(`${c.id}: ledger ${d.impressions} impressions, billed ${mine.length}`)
    if (d.spentMicros !== spent) problem(`${c.id}: ledger spent ${d.spentMicros}, billed ${spent}`)
    if (d.spentMicros > c.budget) problem(`${c.id}: overspent: ${d.spentMicros} > ${c.budget}`)
    if (d.spentMicros + leased > c.budget)
      problem(`${c.id}: spent + leased ${d.spentMicros + leased} > ${c.budget}`)
    // Exhausted: less than last-mile (2 impressions) left, so the run pressed against the budget.
    if (c.id === SMALL.id && (view.budgetLeft.lifetimeMicros ?? 0) >= 2 * c.cost)
      problem(`${c.id} was not exhausted: ${view.budgetLeft.lifetimeMicros} µ left`)
  }
  for (const line of ledgers) t.diagnostic(line)

  // Memory back near its baseline once the faults are over and the load has stopped.
  await sleep(2_000)
  const finalRss = rssBytes(pid)
  const rssLimit = RSS_FACTOR * baselineRss + RSS_SLACK_MB * 1024 * 1024
  t.diagnostic(
    `RSS: baseline ${(baselineRss / 2 ** 20).toFixed(1)} MiB, after recovery ${(finalRss / 2 ** 20).toFixed(1)} MiB ` +
      `(limit ${(rssLimit / 2 ** 20).toFixed(1)} MiB)`,
  )
  if (!(finalRss <= rssLimit)) problem(`RSS ${finalRss} above ${Math.round(rssLimit)}`)

  // The process: alive, and nothing unhandled or thrown in its output.
  if (!isAlive()) problem('the exchange exited')
  const output = ex.output()
  for (const line of output.split('\n')) {
    if (/unhandledRejection|uncaughtException|\bat .+:\d+:\d+\)?(\\n|$)|\\n\s+at /.test(line))
      problem('exchange output: an unhandled error or a stack trace', line.slice(0, 400))
  }
  t.diagnostic(
    `exchange log lines: ${output.split('\n').filter((l) => l.trim() !== '' && !l.startsWith(GC_LINE_PREFIX)).length}; ` +
      `faults exercised (sent/seen): ${JSON.stringify(exercised)}; ` +
      `run ${((performance.now() - startedAt) / 1000).toFixed(1)} s`,
  )
  const report = [...problems].map(
    ([kind, p]) =>
      `${kind}${p.count > 1 ? ` (×${p.count})` : ''}${p.examples.length > 0 ? `: ${p.examples.join(' | ')}` : ''}`,
  )
  assert.deepEqual(report, [], `invariants broken:\n${report.join('\n')}`)
})
