import type { Logger } from 'pino'
import { CatalogHolder, HouseCatalog } from './catalog/house-catalog.js'
import type { Seed } from './catalog/seed.js'
import type { Config, DspConfig } from './config/config.js'
import { createExchange } from './exchange.js'
import { createLoadShedder } from './http/load-shedder.js'
import { createHttpServer, type HttpServer } from './http/server.js'
import { ExchangeMetrics } from './metrics/metrics.js'
import { closeDspPools, createDspEndpoints, warmDspPools } from './stages/bid/dsp-endpoints.js'
import type { FactsSource } from './stages/decorate/decorate-stage.js'

export interface AppOptions {
  readonly config: Config
  readonly log: Pick<Logger, 'info' | 'error' | 'warn'>
  /** DSPs to call; the config's unless the caller (demo mode) substitutes its own. */
  readonly dsps?: readonly DspConfig[]
  readonly seed: Seed | null
  readonly facts?: FactsSource | null
  /** Collect Node's default process metrics (off in tests that run many apps in one process). */
  readonly defaultMetrics?: boolean
  /** Answers GET /metrics; a worker thread asks the main thread for the whole process's metrics. */
  readonly scrapeMetrics?: () => Promise<string>
}

export interface RunningApp {
  readonly port: number
  readonly metrics: ExchangeMetrics
  readonly catalog: CatalogHolder
  readonly server: HttpServer
  /** Stops accepting, waits for in-flight auctions (bounded), closes the DSP pools. */
  drain(): Promise<void>
}

/** Builds and starts one exchange: used by main.ts and by the end-to-end tests alike. */
export async function startApp(options: AppOptions): Promise<RunningApp> {
  const { config, log } = options
  const dspConfigs = options.dsps ?? config.dsps
  const metricsOptions =
    options.defaultMetrics === undefined ? {} : { defaultMetrics: options.defaultMetrics }
  const metrics = new ExchangeMetrics(
    dspConfigs.map((d) => d.id),
    metricsOptions,
  )
  const catalog = new CatalogHolder()
  catalog.swap(HouseCatalog.build(options.seed?.ads ?? [], 1))
  const dsps = createDspEndpoints(dspConfigs, (id) => metrics.dsps.get(id)!)
  await warmDspPools(dsps)

  let isDraining = false
  const exchange = createExchange({ config, metrics, catalog, dsps, facts: options.facts ?? null, log })
  const shedder = createLoadShedder({
    ...config.overload,
    onLag: (lagMs) => metrics.eventLoopLagSeconds.set(lagMs / 1000),
  })
  const server = createHttpServer({
    exchange,
    metrics,
    maxBodyBytes: config.maxBodyBytes,
    isReady: () => catalog.isLoaded && !isDraining,
    isDraining: () => isDraining,
    shedder,
    scrapeMetrics: options.scrapeMetrics ?? (() => metrics.scrape()),
  })
  const port = await server.listen(config.host, config.port)

  return {
    port,
    metrics,
    catalog,
    server,
    async drain() {
      if (isDraining) return
      isDraining = true
      server.stopListening()
      const giveUpAt = performance.now() + config.auction.maxTmaxMs + 1_000
      while (server.inFlight.count > 0 && performance.now() < giveUpAt) await sleep(5)
      await closeDspPools(dsps)
      shedder.stop()
    },
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
