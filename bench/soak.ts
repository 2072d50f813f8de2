/**
 * Soak: memory of the exchange over a long open-loop run. Samples RSS (/proc) and the V8 heap
 * (the exchange's own /metrics: nodejs_heap_size_used_bytes) every interval, fits a line through
 * the settled part of the run and says whether memory grows. `npm run bench -- --soak` drives it.
 */
import { readProcessSample } from './process-stats.js'
import { delta, gauge, type Samples, scrapeMetrics } from './scenarios/prometheus-text.js'

export interface SoakSample {
  /** Seconds since the soak started. */
  readonly tS: number
  readonly rssMb: number
  readonly heapUsedMb: number
  readonly heapTotalMb: number
  /** Auctions per second since the previous sample (rtb_auctions_total). */
  readonly auctionsPerS: number
  /** Share of CPU of one core the exchange used since the previous sample. */
  readonly cpuShare: number
}

export interface SoakOptions {
  readonly pid: number
  readonly baseUrl: string
  readonly intervalS: number
  /** Sampling stops when this settles. */
  readonly until: Promise<unknown>
  readonly onSample?: (s: SoakSample) => void
}

/** Samples until `until` settles (and once at the start). */
export async function sampleSoak(o: SoakOptions): Promise<SoakSample[]> {
  const samples: SoakSample[] = []
  let isDone = false
  void o.until.finally(() => {
    isDone = true
  })
  const startedAt = performance.now()
  let previous: { metrics: Samples | null; cpuUs: number; atMs: number } | null = null
  while (!isDone) {
    const proc = readProcessSample(o.pid)
    const metrics = await scrapeMetrics(o.baseUrl)
    const atMs = performance.now()
    if (metrics !== null) {
      const dtS = previous === null ? 0 : (atMs - previous.atMs) / 1000
      const sample: SoakSample = {
        tS: Math.round((atMs - startedAt) / 100) / 10,
        rssMb: proc.rssBytes / 2 ** 20,
        heapUsedMb: gauge(metrics, 'nodejs_heap_size_used_bytes') / 2 ** 20,
        heapTotalMb: gauge(metrics, 'nodejs_heap_size_total_bytes') / 2 ** 20,
        auctionsPerS:
          previous === null || dtS === 0
            ? Number.NaN
            : delta(previous.metrics, metrics, 'rtb_auctions_total') / dtS,
        cpuShare: previous === null || dtS === 0 ? Number.NaN : (proc.cpuUs - previous.cpuUs) / 1e6 / dtS,
      }
      samples.push(sample)
      o.onSample?.(sample)
      previous = { metrics, cpuUs: proc.cpuUs, atMs }
    }
    await Promise.race([o.until, new Promise((r) => setTimeout(r, o.intervalS * 1000))])
  }
  return samples
}

/** Least-squares slope of y over x. */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length
  if (n < 2) return Number.NaN
  const mx = xs.reduce((a, b) => a + b, 0) / n
  const my = ys.reduce((a, b) => a + b, 0) / n
  let num = 0
  let den = 0
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my)
    den += (xs[i]! - mx) ** 2
  }
  return den === 0 ? Number.NaN : num / den
}

export interface SoakVerdict {
  /** MB per minute, fitted over the settled part (after the first 20% of the run). */
  readonly rssSlope: number
  readonly heapSlope: number
  /** Fitted growth over the settled part, MB, and what counts as growth. */
  readonly rssGrowthMb: number
  readonly heapGrowthMb: number
  readonly thresholdMb: number
  readonly isGrowing: boolean
  readonly text: string
}

/**
 * A trend is growth when the fitted line rises over the settled part by more than max(4 MB, 5% of
 * the mean): GC makes the heap a sawtooth, so small slopes over a few minutes are noise.
 */
export function soakVerdict(samples: readonly SoakSample[]): SoakVerdict {
  const settled = samples.filter((s) => s.tS >= 0.2 * (samples.at(-1)?.tS ?? 0))
  const minutes = settled.map((s) => s.tS / 60)
  const rssSlope = slope(
    minutes,
    settled.map((s) => s.rssMb),
  )
  const heapSlope = slope(
    minutes,
    settled.map((s) => s.heapUsedMb),
  )
  const spanMin = (minutes.at(-1) ?? 0) - (minutes[0] ?? 0)
  const meanRss = settled.reduce((a, s) => a + s.rssMb, 0) / Math.max(1, settled.length)
  const thresholdMb = Math.max(4, 0.05 * meanRss)
  const rssGrowthMb = rssSlope * spanMin
  const heapGrowthMb = heapSlope * spanMin
  const isGrowing = !(rssGrowthMb <= thresholdMb && heapGrowthMb <= thresholdMb)
  const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '-')
  const text =
    `${settled.length} settled samples over ${spanMin.toFixed(1)} min: RSS ${fmt(rssSlope)} MB/min ` +
    `(fitted ${fmt(rssGrowthMb)} MB), heap used ${fmt(heapSlope)} MB/min (fitted ${fmt(heapGrowthMb)} MB); ` +
    `growth threshold ${thresholdMb.toFixed(1)} MB → ` +
    (settled.length < 3
      ? 'too short to judge'
      : isGrowing
        ? 'GROWTH TREND: memory rises over the run'
        : 'no growth trend')
  return { rssSlope, heapSlope, rssGrowthMb, heapGrowthMb, thresholdMb, isGrowing, text }
}

export function soakTable(samples: readonly SoakSample[]): string {
  const f = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : '-')
  return [
    '| t s | RSS MB | heap used MB | heap total MB | auctions/s | srv CPU |',
    '|---|---|---|---|---|---|',
    ...samples.map(
      (s) =>
        `| ${f(s.tS, 0)} | ${f(s.rssMb)} | ${f(s.heapUsedMb)} | ${f(s.heapTotalMb)} | ` +
        `${f(s.auctionsPerS, 0)} | ${Number.isFinite(s.cpuShare) ? `${Math.round(s.cpuShare * 100)}%` : '-'} |`,
    ),
  ].join('\n')
}
