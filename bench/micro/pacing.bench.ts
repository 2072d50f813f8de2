/**
 * Micro-benchmark of the pace stage: what pacing adds to one auction on the request path (the
 * stage's run, then releasing or keeping the reservations after the auction). No store is touched:
 * leases are in hand. Run: `npx tsc -p tsconfig.json && node dist/bench/micro/pacing.bench.js`.
 * Prints the median ns per auction of 7 reps.
 */
import type { AdRecord } from '../../src/catalog/ad.js'
import type { HouseCreative } from '../../src/catalog/house-catalog.js'
import { ExchangeMetrics } from '../../src/metrics/metrics.js'
import type { BidRequest } from '../../src/openrtb/types.js'
import type { Campaign } from '../../src/pacing/campaign.js'
import { decodeCounters } from '../../src/pacing/frequency.js'
import { LeaseManager, PACING_DEFAULTS } from '../../src/pacing/lease-manager.js'
import { AuctionContext, type RequestSignals } from '../../src/pipeline/auction-context.js'
import { Deadline } from '../../src/pipeline/deadline.js'
import { createPaceStage, settleReservations } from '../../src/stages/pace/pace-stage.js'
import { createMemoryPacingStore } from '../../src/store/memory-pacing-store.js'

const WARMUP_OPS = 200_000
const OPS_PER_REP = 500_000
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

function report(name: string, nsPerOp: number): void {
  console.log(`${name.padEnd(58)} ${nsPerOp.toFixed(0).padStart(6)} ns/auction`)
}

function campaign(id: string, over: Partial<Campaign> = {}): Campaign {
  return {
    id,
    name: id,
    status: 'active',
    dailyBudgetMicros: 1e12,
    lifetimeBudgetMicros: 1e13,
    impressionGoal: null,
    startMs: null,
    endMs: null,
    pacing: 'EVEN',
    frequencyCaps: [],
    ...over,
  }
}

function creative(id: string, campaignId: string | null): HouseCreative {
  return { ad: { id, campaignId, cpmMicros: 2_000_000 } as AdRecord, w: 300, h: 250, priceCpm: 2, adm: '' }
}

async function main(): Promise<void> {
  const store = createMemoryPacingStore()
  await store.putCampaign(campaign('budget'))
  await store.putCampaign(
    campaign('capped', {
      frequencyCaps: [
        { window: 'day', max: 5 },
        { window: 'hour', max: 2 },
      ],
    }),
  )
  await store.putCampaign(campaign('paced'))
  const leases = new LeaseManager({
    store,
    settings: PACING_DEFAULTS,
    metrics: new ExchangeMetrics([], { defaultMetrics: false }).pacing,
    log: { warn() {}, info() {} },
  })
  await leases.tick() // loads the campaigns, joins the (one-instance) fleet
  for (const id of ['budget', 'capped', 'paced']) {
    const lease = leases.campaign(id)!
    lease.leaseMicros = 1e15 // a lease in hand: no refill during the run
    lease.leaseImps = 1e12
  }
  leases.campaign('paced')!.pacer = { rate: 0.5, lastActual: 0, lastAtMs: 0 }
  const stage = createPaceStage({ leases })
  const now = Date.now()
  const counts = decodeCounters([['d/capped', `1:${now + 86_400_000}`]], now)
  const request = { id: 'r', imp: [{ id: '1' }, { id: '2' }], user: { id: 'u1' } } as unknown as BidRequest

  function auction(lists: () => HouseCreative[][], frequency: RequestSignals['frequency']): () => number {
    const ctx = new AuctionContext(request, new Deadline(0, 100), 0)
    ctx.signals = { frequency } as RequestSignals
    return () => {
      ctx.houseAds = lists()
      ctx.reservations = null
      stage.run(ctx)
      settleReservations(ctx, leases, false)
      return ctx.houseAds.length
    }
  }
  const unpaced = creative('u', null)
  const budgeted = [creative('b1', 'budget'), creative('b2', 'budget'), creative('b3', 'budget')]
  const capped = creative('c', 'capped')
  const paced = creative('p', 'paced')
  const noCampaign = creative('n', 'unknown')

  console.log(`pace stage + settle, median of ${REPS} reps × ${OPS_PER_REP} auctions`)
  report('1 imp, unpaced house ad (no campaign)', medianNsPerOp(auction(() => [[unpaced]], null)))
  report(
    '1 imp, budgeted campaign: reserve, then release',
    medianNsPerOp(auction(() => [[...budgeted]], null)),
  )
  report('1 imp, 2 caps checked + reserve + release', medianNsPerOp(auction(() => [[capped]], counts)))
  report(
    '1 imp, paced at 0.5 (half skipped) + reserve',
    medianNsPerOp(auction(() => [[paced, unpaced]], null)),
  )
  report(
    '1 imp, unknown campaign skipped, next reserved',
    medianNsPerOp(auction(() => [[noCampaign, budgeted[0]!]], null)),
  )
  report(
    '2 imps, capped + budgeted, both reserved + released',
    medianNsPerOp(auction(() => [[capped], [...budgeted]], counts)),
  )
  if (sink === 42) console.log('')
  await leases.stop()
}

void main()
