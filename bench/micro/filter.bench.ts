/**
 * The filter stage on 10,000 generated ads and 130 rules (21 targeting and block rules, 109 policy
 * rules) over a generated request mix (bench/filter/traffic.ts), four ways in the same run:
 *   adaptive          indexed; filters ordered online by measured cost / rejection rate (production)
 *   fixed worst       indexed; the adaptive order reversed and frozen
 *   linear            no index: every creative in rank order, every filter a per-ad check (ordered
 *                     adaptively, stopping once three ads are found)
 *   linear worst      the same scan with its order reversed and frozen
 * Each auction is timed alone (performance.now() around stage.run, request filters included), in
 * rounds that rotate which variant goes first. As in the exchange, each auction's request and
 * decoration are freshly parsed just before the stage runs (untimed), not objects reused from a
 * pool. All four must keep the same creatives for every request, or the run fails.
 *
 * Run: `npx tsc -p tsconfig.json && node dist/bench/micro/filter.bench.js [--quick]`
 * (about 35 s; --quick under 10 s). Pinning steadies it: `taskset -c 0 node …`.
 */
import { cpus, loadavg, platform, release, totalmem } from 'node:os'
import { CatalogHolder, HouseCatalog } from '../../src/catalog/house-catalog.js'
import type { AuctionContext } from '../../src/pipeline/auction-context.js'
import { AD_FILTER_NAMES } from '../../src/stages/filter/filter-names.js'
import { createFilterStage, type FilterStage } from '../../src/stages/filter/filter-stage.js'
import { Prng } from '../filter/prng.js'
import { createWorld, generateCatalog, generateTraffic, type TrafficSample } from '../filter/traffic.js'

const isQuick = process.argv.includes('--quick')
const AD_COUNT = 10_000
const SAMPLES = isQuick ? 1_000 : 4_000
const ROUNDS = isQuick ? 3 : 7
const WARMUP_AUCTIONS = isQuick ? 20_000 : 60_000
/** A scan costs 10–100× an indexed auction (its worst order 1,000×): it runs on a slice of the mix. */
const LINEAR_SHARE = isQuick ? 0.1 : 0.25
const LINEAR_WORST_SHARE = isQuick ? 0.02 : 0.05
/** A fixed clock: flights and dayparts decide the same way in every run. */
const NOW_MS = Date.UTC(2026, 5, 17, 15, 30)
const SEED = 20260617
/** 27 filters: 21 per-dimension targeting and block rules, and 6 policy kinds holding the policy rules. */
const DIMENSION_RULES = AD_FILTER_NAMES.length - 6
const TARGET_P99_US = 20

interface Variant {
  readonly name: string
  readonly stage: FilterStage
  readonly share: number
  readonly micros: number[]
  /** Imps of the request of each timed auction, for the breakdown. */
  readonly imps: number[]
  /** p99 of each round: a burst of load from elsewhere spoils one round, not the figure. */
  readonly roundP99: number[]
  /** Per request (by index in the mix), its fastest time over the rounds that ran it. */
  readonly best: Float64Array
}

interface Summary {
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly p999: number
  readonly mean: number
}

function main(): void {
  const startedAt = performance.now()
  const prng = new Prng(SEED)
  const world = createWorld(prng)
  const generated = generateCatalog(prng, world, AD_COUNT, NOW_MS)
  const buildStartedAt = performance.now()
  const catalog = HouseCatalog.build(generated.ads, 1, { policies: generated.policies })
  const buildMs = performance.now() - buildStartedAt
  const holder = new CatalogHolder()
  holder.swap(catalog)
  const contexts = generateTraffic(prng, world, SAMPLES).map((sample) => JSON.stringify(sample))

  const now = () => NOW_MS
  const adaptive = createFilterStage(holder, { now })
  const linear = createFilterStage(holder, { now, engine: { useIndex: false } })
  runAll(adaptive, contexts, WARMUP_AUCTIONS)
  runAll(linear, contexts, WARMUP_AUCTIONS / 20)
  const worst = createFilterStage(holder, {
    now,
    engine: { order: adaptive.engine.currentOrder().reverse() },
  })
  const linearWorst = createFilterStage(holder, {
    now,
    engine: { useIndex: false, order: linear.engine.currentOrder().reverse() },
  })
  runAll(worst, contexts, WARMUP_AUCTIONS / 4)
  runAll(linearWorst, contexts, 200)
  const selections = checkSameSelections([adaptive, worst, linear, linearWorst], contexts)

  const variants: Variant[] = [
    variant('adaptive (indexed)', adaptive, 1),
    variant('fixed worst order (indexed)', worst, 1),
    variant('linear scan, adaptive', linear, LINEAR_SHARE),
    variant('linear scan, worst order', linearWorst, LINEAR_WORST_SHARE),
  ]
  for (let round = 0; round < ROUNDS; round++) {
    for (let v = 0; v < variants.length; v++) measure(variants[(v + round) % variants.length]!, contexts)
  }
  reportSetup(catalog, generated.policies.length, buildMs, selections)
  const stats = reportLatency(variants)
  reportByImps(variants[0]!)
  reportBest(variants.slice(0, 2))
  reportOrder(adaptive)
  const rounds = [...variants[0]!.roundP99].sort((a, b) => a - b)
  const roundMedian = rounds[rounds.length >> 1]!
  console.log(
    `\ntarget: adaptive p99 <= ${TARGET_P99_US} µs per auction: pooled ${stats[0]!.p99.toFixed(2)} µs, ` +
      `median round ${roundMedian.toFixed(2)} µs: ${roundMedian <= TARGET_P99_US ? 'met' : 'MISSED'}`,
  )
  console.log(`wall time ${((performance.now() - startedAt) / 1000).toFixed(1)} s`)
}

function variant(name: string, stage: FilterStage, share: number): Variant {
  return {
    name,
    stage,
    share,
    micros: [],
    imps: [],
    roundP99: [],
    best: new Float64Array(SAMPLES).fill(Infinity),
  }
}

/** A fresh context, as validate and decorate would hand it over. */
function contextOf(json: string): AuctionContext {
  const sample = JSON.parse(json) as TrafficSample
  const ctx = { request: sample.request, signals: sample.signals, floors: sample.floors, houseAds: [] }
  return ctx as unknown as AuctionContext
}

function runAll(stage: FilterStage, contexts: readonly string[], auctions: number): void {
  for (let i = 0; i < auctions; i++) stage.run(contextOf(contexts[i % contexts.length]!))
}

function measure(variant: Variant, contexts: readonly string[]): void {
  const count = Math.ceil(contexts.length * variant.share)
  const offset = Math.floor(Math.random() * contexts.length)
  const round: number[] = []
  for (let i = 0; i < count; i++) {
    const at = (offset + i) % contexts.length
    const ctx = contextOf(contexts[at]!)
    const startedAt = performance.now()
    variant.stage.run(ctx)
    const micros = (performance.now() - startedAt) * 1000
    round.push(micros)
    variant.imps.push(ctx.request.imp.length)
    if (micros < variant.best[at]!) variant.best[at] = micros
  }
  variant.micros.push(...round)
  variant.roundP99.push(summarize(round).p99)
}

interface SelectionStats {
  readonly auctionsWithHouseAd: number
  readonly creativesKept: number
  readonly imps: number
  readonly endedByRequestFilters: number
}

/** Every variant must keep the same creatives for every request: order and index change speed only. */
function checkSameSelections(stages: readonly FilterStage[], contexts: readonly string[]): SelectionStats {
  let auctionsWithHouseAd = 0
  let creativesKept = 0
  let imps = 0
  let endedByRequestFilters = 0
  for (const json of contexts) {
    const ctx = contextOf(json)
    const picks = stages.map((stage) => {
      const result = stage.run(ctx)
      if (result !== undefined) return `nbr ${result}`
      return ctx.houseAds.map((list) => list.map((c) => `${c.ad.id}@${c.w}x${c.h}`).join(',')).join('|')
    })
    if (picks.some((p) => p !== picks[0]))
      throw new Error(`variants disagree on ${ctx.request.id}: ${picks.join(' / ')}`)
    if (picks[0]!.startsWith('nbr')) {
      endedByRequestFilters++
      continue
    }
    imps += ctx.houseAds.length
    const kept = ctx.houseAds.reduce((n, list) => n + list.length, 0)
    creativesKept += kept
    if (kept > 0) auctionsWithHouseAd++
  }
  return { auctionsWithHouseAd, creativesKept, imps, endedByRequestFilters }
}

function summarize(micros: readonly number[]): Summary {
  const sorted = [...micros].sort((a, b) => a - b)
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
  const mean = sorted.reduce((s, x) => s + x, 0) / sorted.length
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), mean }
}

function reportSetup(catalog: HouseCatalog, policyRules: number, buildMs: number, s: SelectionStats): void {
  const cpu = cpus()
  const ix = catalog.index
  console.log('filter stage benchmark')
  console.log(
    `machine: ${cpu[0]?.model ?? 'unknown cpu'} × ${cpu.length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
      `${platform()} ${release()}, node ${process.version}, load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  )
  console.log(
    `catalog: ${catalog.size} ads, ${ix.creativeCount} creatives in ${ix.formats.size} formats, ` +
      `${ix.wordCount} words per bitset; built in ${buildMs.toFixed(0)} ms`,
  )
  console.log(
    `rules: ${DIMENSION_RULES} targeting/block rules + ${policyRules} policy rules = ` +
      `${DIMENSION_RULES + policyRules} (${AD_FILTER_NAMES.length} filters)`,
  )
  console.log(
    `traffic: ${SAMPLES} requests, ${s.imps} imps, ${s.endedByRequestFilters} ended by request filters; ` +
      `${s.auctionsWithHouseAd} auctions kept a house ad, ${(s.creativesKept / Math.max(1, s.imps)).toFixed(2)} per imp`,
  )
  console.log(`rounds: ${ROUNDS}${isQuick ? ' (--quick)' : ''}; all variants kept the same creatives: yes`)
}

function reportLatency(variants: readonly Variant[]): Summary[] {
  console.log(
    '\nper auction (µs)                  n      p50      p90      p99    p99.9     mean   p99 of rounds: median (min–max)',
  )
  const stats = variants.map((v) => {
    const s = summarize(v.micros)
    const cells = [s.p50, s.p90, s.p99, s.p999, s.mean].map(fmt).join(' ')
    const rounds = [...v.roundP99].sort((a, b) => a - b)
    const spread = `${fmt(rounds[rounds.length >> 1]!)} (${rounds[0]!.toFixed(1)}–${rounds.at(-1)!.toFixed(1)})`
    console.log(`${v.name.padEnd(28)} ${String(v.micros.length).padStart(7)} ${cells} ${spread}`)
    return s
  })
  const [a, w, l, lw] = stats as [Summary, Summary, Summary, Summary]
  console.log('\nratios (same run)                 p50      p99     mean')
  const row = (name: string, x: Summary, base: Summary) =>
    console.log(
      `${name.padEnd(28)} ${[x.p50 / base.p50, x.p99 / base.p99, x.mean / base.mean].map(fmtRatio).join(' ')}`,
    )
  row('fixed worst ÷ adaptive', w, a)
  row('linear scan ÷ adaptive', l, a)
  row('linear worst ÷ linear', lw, l)
  return stats
}

function reportByImps(v: Variant): void {
  console.log(`\n${v.name} by imps per request:`)
  for (let n = 1; n <= 4; n++) {
    const micros = v.micros.filter((_, i) => v.imps[i] === n)
    if (micros.length === 0) continue
    const s = summarize(micros)
    console.log(
      `  ${n} imp${n > 1 ? 's' : ' '}  n ${String(micros.length).padStart(6)}  p50 ${fmt(s.p50)}  p99 ${fmt(s.p99)}`,
    )
  }
}

/**
 * Each request's fastest time over the rounds: what the stage costs when nothing else on the
 * machine interferes. Not the target figure (that is the p99 above), but it compares runs made on
 * a shared machine under different load, where the p99 above moves with the neighbours.
 */
function reportBest(variants: readonly Variant[]): void {
  console.log(`\neach request's best of ${ROUNDS} rounds (noise-robust; compare runs with this):`)
  for (const v of variants) {
    const s = summarize(Array.from(v.best).filter((x) => x !== Infinity))
    console.log(
      `  ${v.name.padEnd(28)} p50 ${fmt(s.p50)}  p90 ${fmt(s.p90)}  p99 ${fmt(s.p99)}  mean ${fmt(s.mean)}`,
    )
  }
}

function reportOrder(stage: FilterStage): void {
  const order = stage.engine.order
  console.log(
    '\nadaptive order (indexed: format and floor shape the walk; then bitset terms, then predicates):',
  )
  for (const name of stage.engine.currentOrder()) {
    const f = AD_FILTER_NAMES.indexOf(name)
    const cost = order.costNs[f]!.toFixed(2).padStart(7)
    const reject = (order.rejectRate[f]! * 100).toFixed(1).padStart(5)
    const form = stage.engine.filters[f]!.form.padEnd(9)
    console.log(
      `  ${name.padEnd(22)} ${form} ${cost} ns/candidate  rejects ${reject}%  (${order.samples[f]} profiles)`,
    )
  }
}

function fmt(v: number): string {
  return v.toFixed(v < 100 ? 2 : 0).padStart(8)
}

function fmtRatio(v: number): string {
  return `${v.toFixed(1)}×`.padStart(8)
}

main()
