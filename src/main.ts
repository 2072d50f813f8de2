import { collectDefaultMetrics, Registry } from 'prom-client'
import { startApp } from './app.js'
import type { Seed } from './catalog/seed.js'
import type { Config, DspConfig } from './config/config.js'
import { loadConfig } from './config/load-config.js'
import { DEMO_DSPS, type RunningDsp, startSimulatedDsp } from './demo/simulated-dsp.js'
import { ExchangeError } from './errors.js'
import { growFdTable } from './http/grow-fd-table.js'
import { createLogger } from './logger.js'
import { loadSeed } from './seed-source.js'
import { runWorkers } from './workers/run-workers.js'

/**
 * Composition root: configuration → data → exchange, in this thread (WORKERS=1) or in N uWS
 * worker threads sharing the port. SIGTERM and SIGINT drain and exit 0.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit()
  const log = createLogger(config)
  const simulated = config.demo
    ? await Promise.all(DEMO_DSPS.map((s) => startSimulatedDsp({ ...s, port: 0 })))
    : []
  const dsps = config.demo ? simulated.map(demoDspConfig) : config.dsps
  const seed = loadSeed(config)
  // Before listening: growing it under a connection burst would stall the event loop.
  growFdTable()

  let port: number
  let drain: () => Promise<void>
  if (config.workers === 1) {
    const app = await startApp({ config, log, seed, dsps })
    port = app.port
    drain = () => app.drain()
  } else {
    const processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
    const pool = await runWorkers({ config, dsps, processRegistry, log })
    port = pool.port
    drain = () => pool.drain()
  }
  log.info(
    { port, workers: config.workers, ads: seed?.ads.length ?? 0, demo: config.demo },
    'exchange listening',
  )
  if (config.demo) printDemoHelp(port, seed, simulated)

  let isStopping = false
  const shutdown = async (signal: string): Promise<void> => {
    if (isStopping) return
    isStopping = true
    log.info({ signal }, 'draining')
    await drain()
    await Promise.all(simulated.map((d) => d.close()))
    log.info('stopped')
    process.exit(0)
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
}

function loadConfigOrExit(): Config {
  try {
    return loadConfig()
  } catch (err) {
    if (err instanceof ExchangeError) {
      console.error(`rtb-exchange: ${err.message}`)
      process.exit(2)
    }
    throw err
  }
}

function demoDspConfig(dsp: RunningDsp): DspConfig {
  return {
    id: dsp.id,
    endpoint: dsp.url,
    timeoutMs: 80,
    maxQps: 0,
    connections: 16,
    seat: dsp.id,
    gzipRequest: false,
    maxResponseBytes: 256 * 1024,
  }
}

function printDemoHelp(port: number, seed: Seed | null, dsps: readonly RunningDsp[]): void {
  const request = JSON.stringify({
    id: 'demo-1',
    imp: [{ id: '1', banner: { format: [{ w: 300, h: 250 }] } }],
    site: { domain: 'news.example', page: 'https://news.example/a', publisher: { id: 'pub-1' } },
    device: { ua: 'Mozilla/5.0', ip: '203.0.113.9', geo: { country: 'USA' } },
    user: { id: 'u1' },
    tmax: 100,
  })
  const names = dsps.map((d) => d.id).join(', ')
  console.log(
    [
      '',
      `Demo exchange on http://127.0.0.1:${port}: ${seed?.ads.length ?? 0} house ads, ${dsps.length} simulated DSPs (${names}).`,
      'Get a bid:',
      `  curl -s -X POST http://127.0.0.1:${port}/openrtb2/auction -H 'content-type: application/json' -d '${request}'`,
      `Metrics: curl -s http://127.0.0.1:${port}/metrics | grep rtb_`,
      '',
    ].join('\n'),
  )
}

main().catch((err: unknown) => {
  console.error('rtb-exchange failed to start:', err)
  process.exit(1)
})
