import type { MetricObjectWithValues, MetricValue } from 'prom-client'

/** One registry's metrics as JSON, the form prom-client aggregates across workers. */
export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[]

/** Messages between the main thread and its uWS worker threads (WORKERS > 1). */
export type ToWorker =
  | { readonly type: 'metrics-json'; readonly id: number }
  | { readonly type: 'scrape-result'; readonly id: number; readonly text: string }
  | { readonly type: 'drain' }

export type ToMain =
  | { readonly type: 'listening'; readonly port: number }
  | { readonly type: 'scrape'; readonly id: number }
  | { readonly type: 'metrics-json-result'; readonly id: number; readonly json: MetricsJson }
  | { readonly type: 'drained' }
