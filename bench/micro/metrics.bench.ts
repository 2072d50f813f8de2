/**
 * What the metrics of one auction cost: every observation and increment the request path makes
 * for a 3-DSP auction (auction histogram and outcome counter, six stage timings, per DSP a latency
 * observation and an outcome counter, bids received and a win, decoration outcome, the in-flight
 * count up and down), on pre-resolved children, plus the performance.now() calls that time them.
 * Target (operations issue): ≤ 3 µs per auction.
 * Run: `npx tsc -p tsconfig.json && node dist/bench/micro/metrics.bench.js`
 */
import { ExchangeMetrics, STAGE_NAMES } from '../../src/metrics/metrics.js'

const WARMUP_OPS = 100_000
const OPS_PER_REP = 200_000
const REPS = 7

let sink = 0

function medianNsPerOp(op: () => number): number {
  for (let i = 0; i < WARMUP_OPS; i++) sink += op()
  const samples: number[] = []
  for (let rep = 0; rep < REPS; rep++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < OPS_PER_REP; i++) sink += op()
    samples.push(Number(process.hrtime.bigint() - start) / OPS_PER_REP)
  }
  samples.sort((a, b) => a - b)
  return samples[REPS >> 1]!
}

const DSP_IDS = ['dsp-a', 'dsp-b', 'dsp-c']
const metrics = new ExchangeMetrics(DSP_IDS, { defaultMetrics: false })
const stages = STAGE_NAMES.map((s) => metrics.stageSeconds[s])
const dsps = DSP_IDS.map((id) => metrics.dsps.get(id)!)
let n = 0

function oneAuction(): number {
  const startedAt = performance.now()
  metrics.inFlightCount.count++
  for (const stage of stages) {
    const t = performance.now()
    stage.observe((performance.now() - t) / 1000)
  }
  metrics.decoration.hit.inc()
  for (const dsp of dsps) {
    dsp.latencySeconds.observe(0.001 + (n++ % 40) / 1000)
    dsp.calls.bid.inc()
    dsp.bidsReceived.inc(1)
  }
  dsps[0]!.won.inc()
  metrics.inFlightCount.count--
  metrics.auctionSeconds.observe((performance.now() - startedAt) / 1000)
  metrics.auctions.bid.inc()
  return 1
}

const ns = medianNsPerOp(oneAuction)
console.log(
  `metrics of one 3-DSP auction: ${(ns / 1000).toFixed(2)} µs (median of ${REPS} reps × ${OPS_PER_REP})`,
)
console.log(`scrape of the resulting registry: ${scrapeMs().toFixed(2)} ms`)
if (sink < 0) console.log(sink)

function scrapeMs(): number {
  const start = performance.now()
  void metrics.scrape()
  return performance.now() - start
}
