/**
 * The filter stage on 10,000 generated ads and 130 rules (21 targeting and block rules, 109 policy
 * rules), over a generated request mix, three ways in the same run:
 *   adaptive  — indexed, filters ordered online by measured cost / rejection rate (production);
 *   worst     — indexed, the adaptive order reversed and frozen (the worst order it could have);
 *   linear    — no index: every creative in rank order, every filter as a per-ad check
 *               (itself ordered adaptively, and stopping once three ads are found).
 * Each auction is timed alone (performance.now() around stage.run), in rounds that rotate which
 * variant goes first; all three must pick the same creatives for every request.
 *
 * Run: `npx tsc -p tsconfig.json && node dist/bench/micro/filter.bench.js [--quick]`
 * (about 30 s; --quick about 6 s). Pin it for steadier numbers: `taskset -c 0 node ...`.
 */
import { cpus, loadavg, platform, release, totalmem } from 'node:os'
import { CatalogHolder, HouseCatalog } from '../../src/catalog/house-catalog.js'
import type { AuctionContext } from '../../src/pipeline/auction-context.js'
import { createFilterStage, type FilterStage } from '../../src/stages/filter/filter-stage.js'
import { Prng } from '../filter/prng.js'
import { createWorld, generateCatalog, generateTraffic, type TrafficSample } from '../filter/traffic.js'

const isQuick = process.argv.includes('--quick')
const AD_COUNT = 10_000
const SAMPLES = isQuick ? 1_000 : 4_000
const ROUNDS = isQuick ? 3 : 7
const WARMUP_AUCTIONS = isQuick ? 20_000 : 60_000
/** The scan costs ~100× more per auction: it runs on a slice of the mix each round. */
const LINEAR_SHARE = isQuick ? 0.25 : 0.5
/** A fixed clock: flights and dayparts decide the same way in every run. */
const NOW_MS = Date.UTC(2026, 5, 17, 15, 30)
const SEED = 20260617

interface Variant {
  readonly name: string
  readonly stage: FilterStage
  readonly share: number
  readonly micros: number[]
}

function main(): void {
  const startedAt = performance.now()
  const prng = new Prng(SEED)
  const world = createWorld(prng)
  const generated = generateCatalog(prng, world, AD_COUNT, NOW_MS)
  const buildStart = performance.now()
  const catalog = HouseCatalog.build(generated.ads, 1, { policies: generated.policies })
  const buildMs = performance.now() - buildStart
  const holder = new CatalogHolder()
  holder.swap(catalog)
  const traffic = generateTraffic(prng, world, SAMPLES)
  const contexts = traffic.map(toContext)

  const now = () => NOW_MS
  const adaptive = createFilterStage(holder, { now })
  runAll(adaptive, contexts, WARMUP_AUCTIONS)
  const worstOrder = adaptive.engine.currentOrder().reverse()
  const worst = createFilterStage(holder, { now, engine: { order: worstOrder } })
  const linear = createFilterStage(holder, { now, engine: { useIndex: false } })
  runAll(worst, contexts, WARMUP_AUCTIONS / 4)
  runAll(linear, contexts, Math.ceil(WARMUP_AUCTIONS / 40))
  const selections = checkSameSelections([adaptive, worst, linear], contexts)

  const variants: Variant[] = [
    { name: 'adaptive (indexed)', stage: adaptive, share: 1, micros: [] },
    { name: 'fixed worst order (indexed)', stage: worst, share: 1, micros: [] },
    { name: 'linear scan (no index)', stage: linear, share: LINEAR_SHARE, micros: [] },
  ]
  for (let round = 0; round < ROUNDS; round++) {
    for (let v = 0; v < variants.length; v++) measure(variants[(v + round) % variants.length]!, contexts)
  }
  report(variants, catalog, generated.policies.length, buildMs, selections, adaptive)
  console.log(`\nwall time ${((performance.now() - startedAt) / 1000).toFixed(1)} s`)
}

function toContext(sample: TrafficSample): AuctionContext {
  return {
    request: sample.request,
    signals: sample.signals,
    floors: sample.floors,
    houseAds: [],
  } as unknown as AuctionContext
}

function runAll(stage: FilterStage, contexts: readonly AuctionContext[], auctions: number): void {
  for (let i = 0; i < auctions; i++) stage.run(contexts[i % contexts.length]!)
}

function measure(variant: Variant, contexts: readonly AuctionContext[]): void {
  const count = Math.ceil(contexts.length * variant.share)
  const offset = Math.floor(Math.random() * contexts.length)
  for (let i = 0; i < count; i++) {
    const ctx = contexts[(offset + i) % contexts.length]!
    const t0 = performance.now()
    variant.stage.run(ctx)
    variant.micros.push((performance.now() - t0) * 1000)
  }
}

interface SelectionStats {
  readonly auctionsWithHouseAd: number
  readonly creativesKept: number
  readonly imps: number
  readonly endedByRequestFilters: number
}

/** Every variant must keep the same creatives for every request: the index changes speed only. */
function checkSameSelections(
  stages: readonly FilterStage[],
  contexts: readonly AuctionContext[],
): SelectionStats {
  let auctionsWithHouseAd = 0
  let creativesKept = 0
  let imps = 0
  let endedByRequestFilters = 0
  for (const ctx of contexts) {
    const picks = stages.map((stage) => {
      const result = stage.run(ctx)
      return result === undefined
        ? ctx.houseAds.map((list) => list.map((c) => `${c.ad.id}@${c.w}x${c.h}`).join(',')).join('|')
        : `nbr ${result}`
    })
    if (picks.some((p) => p !== picks[0]))
      throw new Error(`variants disagree on ${ctx.request.id}: ${picks.join(' / ')}`)
    if (picks[0]!.startsWith('nbr')) endedByRequestFilters++
    else {
      imps += ctx.houseAds.length
      const kept = ctx.houseAds.reduce((n, list) => n + list.length, 0)
      creativesKept += kept
      if (kept > 0) auctionsWithHouseAd++
    }
  }
  return { auctionsWithHouseAd, creativesKept, imps, endedByRequestFilters }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
}

function report(
  variants: readonly Variant[],
  catalog: HouseCatalog,
  policyRules: number,
  buildMs: number,
  selections: SelectionStats,
  adaptive: FilterStage,
): void {
  const cpu = cpus()
  console.log('filter stage benchmark')
  console.log(
    `machine: ${cpu[0]?.model ?? 'unknown cpu'} × ${cpu.length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
      `${platform()} ${release()}, node ${process.version}, load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  )
  const ix = catalog.index
  console.log(
    `catalog: ${catalog.size} ads, ${ix.creativeCount} creatives in ${ix.formats.size} formats, ` +
      `${ix.wordCount} words per bitset; built in ${buildMs.toFixed(0)} ms`,
  )
  console.log(
    `rules: 21 targeting/block rules + ${policyRules} policy rules = ${21 + policyRules} (27 filters)`,
  )
  console.log(
    `traffic: ${SAMPLES} requests, ${selections.imps} imps; ${selections.endedByRequestFilters} ended by request filters; ` +
      `${selections.auctionsWithHouseAd} auctions kept a house ad, ${(selections.creativesKept / Math.max(1, selections.imps)).toFixed(2)} creatives per imp`,
  )
  console.log(`rounds: ${ROUNDS}${isQuick ? ' (--quick)' : ''}; same selections in all variants: yes\n`)
  console.log('per auction (µs)                  n      p50      p90      p99    p99.9     mean')
  const stats = variants.map((v) => {
    const sorted = [...v.micros].sort((a, b) => a - b)
    const mean = sorted.reduce((s, x) => s + x, 0) / sorted.length
    const row = {
      p50: percentile(sorted, 0.5),
      p90: percentile(sorted, 0.9),
      p99: percentile(sorted, 0.99),
      p999: percentile(sorted, 0.999),
      mean,
    }
    console.log(
      `${v.name.padEnd(28)} ${String(sorted.length).padStart(7)} ${fmt(row.p50)} ${fmt(row.p90)} ${fmt(row.p99)} ${fmt(row.p999)} ${fmt(row.mean)}`,
    )
    return row
  })
  const [a, w, l] = stats as [(typeof stats)[0], (typeof stats)[0], (typeof stats)[0]]
  console.log('\nratios (same run)                 p50      p99     mean')
  console.log(
    `fixed worst ÷ adaptive       ${fmtRatio(w.p50 / a.p50)} ${fmtRatio(w.p99 / a.p99)} ${fmtRatio(w.mean / a.mean)}`,
  )
  console.log(
    `linear scan ÷ adaptive       ${fmtRatio(l.p50 / a.p50)} ${fmtRatio(l.p99 / a.p99)} ${fmtRatio(l.mean / a.mean)}`,
  )
  const target = a.p99 <= 20 ? 'met' : 'MISSED'
  console.log(`\ntarget p99 <= 20 µs per auction (adaptive): ${target}`)
  const order = adaptive.engine.order
  console.log(
    '\nadaptive order (indexed: range filters, then bitset terms, then predicates, each in this order):',
  )
  console.log(
    adaptive.engine
      .currentOrder()
      .map((name, i) => {
        const f = order.order[i]!
        return `  ${name.padEnd(22)} ${order.costNs[f]!.toFixed(2).padStart(7)} ns/cand  reject ${(order.rejectRate[f]! * 100).toFixed(1).padStart(5)}%  (${order.samples[f]} profiles)`
      })
      .join('\n'),
  )
}

function fmt(v: number): string {
  return v.toFixed(v < 100 ? 2 : 0).padStart(8)
}

function fmtRatio(v: number): string {
  return `${v.toFixed(1)}×`.padStart(8)
}

main()
