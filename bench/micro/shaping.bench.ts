/**
 * Micro-benchmark of the traffic shaper alone: the per-DSP admission decision (static eligibility,
 * deadline, breaker, throttle, value score, free connection, token bucket) and the per-call outcome
 * update, for 10 DSPs with mixed targeting and caps. Target: ≤ 1 µs per DSP decision.
 * Run: `npx tsc -p tsconfig.json && node dist/bench/micro/shaping.bench.js`.
 */
import type { DspConfig } from '../../src/config/config.js'
import { ExchangeMetrics } from '../../src/metrics/metrics.js'
import type { BidRequest } from '../../src/openrtb/types.js'
import { createTrafficShaper } from '../../src/stages/bid/traffic-shaper.js'

const DSP_COUNT = 10
const AUCTIONS_PER_REP = 100_000
const WARMUP_AUCTIONS = 100_000
const REPS = 7

function dspConfigs(): DspConfig[] {
  return Array.from({ length: DSP_COUNT }, (_, i) => ({
    id: `dsp-${i}`,
    endpoint: `http://127.0.0.1:${9000 + i}/bid`,
    timeoutMs: 80,
    // Half capped (the bucket and the value controller work), half not.
    maxQps: i % 2 === 0 ? 50_000 : 0,
    connections: 1_000_000,
    seat: `dsp-${i}`,
    gzipRequest: false,
    maxResponseBytes: 65536,
    ...(i === 3 ? { countries: ['USA', 'CAN', 'GBR'] } : {}),
    ...(i === 5 ? { formats: ['300x250', '728x90'], mediaTypes: ['banner' as const] } : {}),
    ...(i === 7 ? { dealsOnly: true } : {}),
  }))
}

/** A few request shapes so the profile and segments vary as in real traffic. */
function requests(): BidRequest[] {
  const base = { site: { domain: 'news.example' }, device: { geo: { country: 'USA' }, devicetype: 2 } }
  return [
    {
      id: 'a',
      imp: [
        {
          id: '1',
          banner: {
            format: [
              { w: 300, h: 250 },
              { w: 336, h: 280 },
            ],
          },
        },
      ],
      ...base,
    },
    { id: 'b', imp: [{ id: '1', video: { w: 640, h: 480, mimes: ['video/mp4'] } }], ...base },
    {
      id: 'c',
      imp: [{ id: '1', banner: { w: 728, h: 90 } }],
      app: { bundle: 'com.example' },
      device: { geo: { country: 'DEU' }, devicetype: 4 },
    },
    { id: 'd', imp: [{ id: '1', native: { request: '{}' }, pmp: { deals: [{ id: 'x' }] } }], ...base },
  ] as BidRequest[]
}

function main(): void {
  const configs = dspConfigs()
  const metrics = new ExchangeMetrics(
    configs.map((c) => c.id),
    { defaultMetrics: false },
  )
  const shaper = createTrafficShaper(
    configs.map((config) => ({ config, metrics: metrics.dsps.get(config.id)! })),
    { minDspBudgetMs: 5 },
  )
  const reqs = requests()
  // A synthetic clock: 20k auctions per simulated second, so ticks, buckets and decay all run.
  let clockMs = 0
  let admitted = 0
  let admitNs = 0
  let resultNs = 0
  const sentMask = new Uint8Array(DSP_COUNT)
  const runAuctions = (n: number, timed: boolean): void => {
    for (let a = 0; a < n; a++) {
      sentMask.fill(0)
      clockMs += 0.05
      const t0 = process.hrtime.bigint()
      const segment = shaper.beginAuction(reqs[a & 3]!, clockMs)
      let sent = 0
      for (let i = 0; i < DSP_COUNT; i++) {
        if (shaper.admit(i, 80, 75, clockMs) === null) {
          sentMask[i] = 1
          sent++
        }
      }
      const t1 = process.hrtime.bigint()
      for (let i = 0; i < DSP_COUNT; i++) {
        if (sentMask[i] === 0) continue
        const fails = (a + i) % 20 === 0
        shaper.onResult(
          i,
          segment,
          fails ? 'timeout' : null,
          3 + (i % 5),
          (a + i) % 3 === 0 ? 1.5 : 0,
          clockMs,
        )
      }
      const t2 = process.hrtime.bigint()
      if (timed) {
        admitNs += Number(t1 - t0)
        resultNs += Number(t2 - t1)
        admitted += sent
      }
    }
  }
  runAuctions(WARMUP_AUCTIONS, false)
  const perDecision: number[] = []
  const perResult: number[] = []
  for (let rep = 0; rep < REPS; rep++) {
    admitNs = 0
    resultNs = 0
    admitted = 0
    runAuctions(AUCTIONS_PER_REP, true)
    perDecision.push(admitNs / (AUCTIONS_PER_REP * DSP_COUNT))
    perResult.push(resultNs / admitted)
  }
  const median = (xs: number[]): number => xs.sort((x, y) => x - y)[xs.length >> 1]!
  console.log(`traffic shaper, ${DSP_COUNT} DSPs, median of ${REPS} reps × ${AUCTIONS_PER_REP} auctions`)
  console.log(
    `  admission decision (incl. beginAuction share) ${median(perDecision).toFixed(0).padStart(6)} ns/DSP`,
  )
  console.log(
    `  outcome update (onResult)                     ${median(perResult).toFixed(0).padStart(6)} ns/call`,
  )
  console.log(`  calls admitted per auction: ${(admitted / AUCTIONS_PER_REP).toFixed(2)} of ${DSP_COUNT}`)
}

main()
