import type { Logger } from 'pino'
import { createCatalogSync } from './catalog/catalog-sync.js'
import { CatalogHolder } from './catalog/house-catalog.js'
import type { Seed } from './catalog/seed.js'
import type { Config, DspConfig } from './config/config.js'
import { createExchange } from './exchange.js'
import type { AdminAuthResult } from './http/admin-auth.js'
import { registerAdminRoutes } from './http/admin-routes.js'
import { registerCampaignRoutes } from './http/campaign-routes.js'
import { claimPort } from './http/claim-port.js'
import { createLoadShedder } from './http/load-shedder.js'
import { registerNoticeRoutes } from './http/notice-routes.js'
import { createHttpServer, type HttpServer } from './http/server.js'
import { ExchangeMetrics } from './metrics/metrics.js'
import { type PacingRuntime, startPacing } from './pacing/start-pacing.js'
import { closeDspPools, createDspEndpoints, warmDspPools } from './stages/bid/dsp-endpoints.js'
import type { FactsSource } from './stages/decorate/decorate-stage.js'
import { createDecorator } from './stages/decorate/decoration-cache.js'
import { createAdExplainer } from './stages/filter/explain-request.js'
import { createStore } from './store/create-store.js'
import type { PacingStore } from './store/pacing-store.js'
import type { ExchangeStore } from './store/store.js'
import { writeSeed } from './store/write-seed.js'

export interface AppOptions {
  readonly config: Config
  readonly log: Pick<Logger, 'info' | 'error' | 'warn'>
  /** DSPs to call; the config's unless the caller (demo mode) substitutes its own. */
  readonly dsps?: readonly DspConfig[]
  /** Written into the store at start (the embedded store's only source of data). */
  readonly seed: Seed | null
  /** The store; by default Dragonfly at config.dragonflyUrl, or an embedded one. */
  readonly store?: ExchangeStore
  /** Overrides the decoration (tests); by default the cache-aside decorator over the store. */
  readonly facts?: FactsSource | null
  /** Budgets and leases; by default Dragonfly at config.dragonflyUrl, or embedded beside `store`. */
  readonly pacingStore?: PacingStore
  /** Collect Node's default process metrics (off in tests that run many apps in one process). */
  readonly defaultMetrics?: boolean
  /** Share the port with sibling worker threads (SO_REUSEPORT); otherwise the port is exclusive. */
  readonly sharedPort?: boolean
  /** Answers GET /metrics; a worker thread asks the main thread for the whole process's metrics. */
  readonly scrapeMetrics?: () => Promise<string>
}

export interface RunningApp {
  readonly port: number
  readonly metrics: ExchangeMetrics
  readonly catalog: CatalogHolder
  readonly store: ExchangeStore
  /** Leases, budgets, pacing and notice signing (src/pacing). */
  readonly pacing: PacingRuntime
  readonly server: HttpServer
  /** Stops accepting, waits for in-flight auctions (bounded), closes the DSP pools. */
  drain(): Promise<void>
}

/** Builds and starts one exchange: used by main.ts and by the end-to-end tests alike. */
export async function startApp(options: AppOptions): Promise<RunningApp> {
  const { log } = options
  const config = await withConcretePort(options.config)
  const dspConfigs = options.dsps ?? config.dsps
  const metricsOptions =
    options.defaultMetrics === undefined ? {} : { defaultMetrics: options.defaultMetrics }
  const metrics = new ExchangeMetrics(
    dspConfigs.map((d) => d.id),
    metricsOptions,
  )
  const store =
    options.store ??
    createStore(config.dragonflyUrl, { log, commandTimeoutMs: config.decoration.storeCommandTimeoutMs })
  const isStoreUp = await store.connect()
  if (!isStoreUp)
    log.warn(
      { url: config.dragonflyUrl },
      'store unavailable at start: serving undecorated, catalog empty until it answers',
    )
  if (options.seed !== null && isStoreUp) await writeSeed(store, options.seed)
  const catalog = new CatalogHolder()
  const catalogSync = createCatalogSync(store, catalog, log, { policies: options.seed?.policies ?? [] })
  await catalogSync.start()
  const storeUpTimer = setInterval(() => metrics.storeUp.set(store.isAvailable() ? 1 : 0), 1_000)
  storeUpTimer.unref()
  metrics.storeUp.set(store.isAvailable() ? 1 : 0)
  const pacing = await startPacing({
    config,
    store,
    metrics,
    log,
    ...(options.pacingStore === undefined ? {} : { pacingStore: options.pacingStore }),
  })
  const facts =
    options.facts !== undefined
      ? options.facts
      : createDecorator({
          store,
          ttlMs: config.decoration.ttlMs,
          negativeTtlMs: config.decoration.negativeTtlMs,
          maxEntries: config.decoration.maxEntries,
          deadlineMs: config.decoration.deadlineMs,
          frequencyTtlMs: config.pacing.frequencyCacheTtlMs,
          onOutcome: (outcome) => metrics.decoration[outcome].inc(),
        })
  const dsps = createDspEndpoints(dspConfigs, (id) => metrics.dsps.get(id)!, {
    transport: config.dspTransport,
  })
  await warmDspPools(dsps)

  let isDraining = false
  const exchange = createExchange({ config, metrics, catalog, dsps, facts, log, pacing: pacing.hooks })
  // DSP QPS caps are split over the live exchange threads of the fleet (the pacing heartbeat set);
  // never fewer than this process's own workers, even before the first heartbeat.
  const instanceTimer = setInterval(
    () => exchange.setInstanceCount(Math.max(config.workers, pacing.hooks.leases.liveInstances)),
    1_000,
  )
  instanceTimer.unref()
  const countAuth = (result: AdminAuthResult): void => metrics.adminRequests[result].inc()
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
    // Generous (3 × the longest tmax): a body this late can never be auctioned in time, and a
    // slow client must not hold an in-flight slot; a busy loop must not turn good clients away.
    bodyTimeoutMs: 3 * config.auction.maxTmaxMs,
    scrapeMetrics: options.scrapeMetrics ?? (() => metrics.scrape()),
    extraRoutes: (app) => {
      registerAdminRoutes(app, {
        token: config.adminToken,
        store,
        catalog,
        refreshCatalog: catalogSync.refresh,
        countAuth,
        explainAd: createAdExplainer({ catalog, facts, currency: config.auction.currency }),
      })
      registerNoticeRoutes(app, pacing.notices)
      registerCampaignRoutes(app, {
        token: config.adminToken,
        store: pacing.store,
        leases: pacing.leases,
        countAuth,
      })
    },
  })
  const port = await server.listen(config.host, config.port, { shared: options.sharedPort === true })

  return {
    port,
    metrics,
    catalog,
    store,
    pacing,
    server,
    async drain() {
      if (isDraining) return
      isDraining = true
      server.stopListening()
      const giveUpAt = performance.now() + config.auction.maxTmaxMs + 1_000
      while (server.inFlight.count > 0 && performance.now() < giveUpAt) await sleep(5)
      // Unspent leases go back to their campaigns while the store is still open.
      await pacing.stop()
      await closeDspPools(dsps)
      server.close()
      shedder.stop()
      clearInterval(storeUpTimer)
      clearInterval(instanceTimer)
      catalogSync.stop()
      await store.close()
    },
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * Port 0 ("any free port", tests and tools) is turned into a concrete port before anything is
 * built, so the default public URL (notice links, schain) names the port we really listen on.
 */
async function withConcretePort(config: Config): Promise<Config> {
  if (config.port !== 0) return config
  const port = await claimPort(config.host, 0)
  const isDefaultUrl = config.publicUrl === 'http://127.0.0.1:0'
  return { ...config, port, publicUrl: isDefaultUrl ? `http://127.0.0.1:${port}` : config.publicUrl }
}
