/**
 * The exchange's own view of a measurement: /metrics scraped at both ends of a window, parsed from
 * the Prometheus text format into series → value, and the differences the report needs.
 */
import { get } from 'node:http'

/** Series (name plus its label set, as printed) → value. */
export type Samples = ReadonlyMap<string, number>

export function parsePrometheusText(text: string): Map<string, number> {
  const samples = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const cut = line.lastIndexOf(' ')
    if (cut <= 0) continue
    const value = Number(line.slice(cut + 1))
    if (!Number.isNaN(value)) samples.set(line.slice(0, cut), value)
  }
  return samples
}

/** GET /metrics; null when the server did not answer 200 within 5 s. */
export function scrapeMetrics(baseUrl: string): Promise<Map<string, number> | null> {
  return new Promise((resolve) => {
    const req = get(`${baseUrl}/metrics`, { agent: false, timeout: 5000 }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        body += chunk
      })
      res.on('end', () => resolve(res.statusCode === 200 ? parsePrometheusText(body) : null))
      res.on('error', () => resolve(null))
    })
    req.on('error', () => resolve(null))
    req.on('timeout', () => req.destroy())
  })
}

/** Labels of a series key: `name{a="x",b="y"}` → {a: 'x', b: 'y'}. */
export function labelsOf(series: string): Record<string, string> {
  const open = series.indexOf('{')
  const labels: Record<string, string> = {}
  if (open < 0) return labels
  for (const m of series.slice(open + 1, -1).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
    labels[m[1]!] = m[2]!
  }
  return labels
}

function nameOf(series: string): string {
  const open = series.indexOf('{')
  return open < 0 ? series : series.slice(0, open)
}

/** Sum over the series of `name` whose labels match `where`, after − before (before may be null). */
export function delta(
  before: Samples | null,
  after: Samples,
  name: string,
  where: Readonly<Record<string, string>> = {},
): number {
  let sum = 0
  for (const [series, value] of after) {
    if (nameOf(series) !== name) continue
    const labels = labelsOf(series)
    if (!Object.entries(where).every(([k, v]) => labels[k] === v)) continue
    sum += value - (before?.get(series) ?? 0)
  }
  return sum
}

/** The same, split by one label: label value → delta (zero deltas left out). */
export function deltaBy(
  before: Samples | null,
  after: Samples,
  name: string,
  label: string,
  where: Readonly<Record<string, string>> = {},
) {
  const out = new Map<string, number>()
  for (const [series, value] of after) {
    if (nameOf(series) !== name) continue
    const labels = labelsOf(series)
    const key = labels[label]
    if (key === undefined || !Object.entries(where).every(([k, v]) => labels[k] === v)) continue
    const d = value - (before?.get(series) ?? 0)
    if (d !== 0) out.set(key, (out.get(key) ?? 0) + d)
  }
  return out
}

/** The last value of a gauge (summed over its series): e.g. nodejs_heap_size_used_bytes. */
export function gauge(samples: Samples, name: string): number {
  let sum = 0
  let found = false
  for (const [series, value] of samples) {
    if (nameOf(series) === name) {
      sum += value
      found = true
    }
  }
  return found ? sum : Number.NaN
}

/** A histogram's cumulative buckets over a window: upper bound (s) → count, ascending, +Inf last. */
export function histogramDelta(
  before: Samples | null,
  after: Samples,
  name: string,
  where: Readonly<Record<string, string>> = {},
): [number, number][] {
  const byLe = deltaBy(before, after, `${name}_bucket`, 'le', where)
  // Keep empty buckets too: a bucket with no new observations is still a bound to report.
  for (const series of after.keys()) {
    if (nameOf(series) === `${name}_bucket`) {
      const labels = labelsOf(series)
      if (!Object.entries(where).every(([k, v]) => labels[k] === v)) continue
      const le = labels['le']
      if (le !== undefined && !byLe.has(le)) byLe.set(le, 0)
    }
  }
  return [...byLe]
    .map(([le, n]): [number, number] => [le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), n])
    .sort((a, b) => a[0] - b[0])
}

/** Share of observations above `boundS` (which must be a bucket bound); NaN when there are none. */
export function shareAbove(buckets: readonly [number, number][], boundS: number): number {
  const total = buckets.at(-1)?.[1] ?? 0
  const atOrBelow = buckets.find(([le]) => Math.abs(le - boundS) < 1e-9)?.[1]
  if (total === 0 || atOrBelow === undefined) return Number.NaN
  return (total - atOrBelow) / total
}

/** Quantile q from cumulative buckets: the upper bound of the bucket holding it (bucket resolution). */
export function bucketQuantile(buckets: readonly [number, number][], q: number): number {
  const total = buckets.at(-1)?.[1] ?? 0
  if (total === 0) return Number.NaN
  const target = q * total
  for (const [le, n] of buckets) if (n >= target) return le
  return Number.POSITIVE_INFINITY
}
