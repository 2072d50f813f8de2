import type { Registry } from 'prom-client'
import { labelSet } from './fast-histogram.js'

/** One label set's count: a plain number, so an increment is one addition. */
class CounterSeries {
  value = 0

  constructor(readonly labels: Readonly<Record<string, string>>) {}

  inc(n = 1): void {
    this.value += n
  }
}

/**
 * A Prometheus counter for the request path. prom-client's `inc` on a bound child still validates
 * its argument and hashes the label set on every call (~100–200 ns); this one adds to a number
 * (~2 ns). Like FastHistogram, the exposition is built only when scraped, through prom-client's
 * registry, and aggregates across worker threads (summed). Every series exists from the start at
 * 0, so rate() and absent() work from the first scrape. Label sets are closed: create each child
 * up front with `labels(...)`.
 */
export class FastCounter {
  readonly type = 'counter'
  readonly aggregator = 'sum'
  readonly #series: CounterSeries[] = []

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never)
  }

  /** The series for these label values (in labelNames order); the same values give the same series. */
  labels(...values: string[]): { inc(n?: number): void } {
    const found = this.#series.find((s) => this.labelNames.every((name, i) => s.labels[name] === values[i]))
    if (found !== undefined) return found
    const series = new CounterSeries(labelSet(this.labelNames, values))
    this.#series.push(series)
    return series
  }

  /** prom-client's metric contract: called at scrape time only. */
  async get(): Promise<{
    name: string
    help: string
    type: string
    aggregator: string
    values: { labels: Record<string, string>; value: number }[]
  }> {
    const values = this.#series.map((s) => ({ labels: { ...s.labels }, value: s.value }))
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  reset(): void {
    for (const s of this.#series) s.value = 0
  }
}
