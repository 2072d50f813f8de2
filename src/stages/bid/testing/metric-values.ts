import type { ExchangeMetrics } from '../../../metrics/metrics.js'

/** The value of one series of a counter or gauge (0 when absent), for assertions in tests. */
export async function metricValue(
  metrics: ExchangeMetrics,
  name: string,
  labels: Readonly<Record<string, string>>,
): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name)
  if (metric === undefined) throw new Error(`no metric ${name}`)
  const data = await metric.get()
  const wanted = Object.entries(labels)
  const found = data.values.find((v) => wanted.every(([k, value]) => v.labels[k] === value))
  return found?.value ?? 0
}
