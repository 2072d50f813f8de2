import { parentPort, workerData } from 'node:worker_threads'
import { startApp } from '../app.js'
import type { Config, DspConfig } from '../config/config.js'
import { createLogger } from '../logger.js'
import { loadSeed } from '../seed-source.js'
import type { ToMain, ToWorker } from './messages.js'

/** One uWS worker thread: a whole exchange pipeline sharing the port with its siblings. */
async function runWorker(): Promise<void> {
  const port = parentPort!
  const { config, dsps, index } = workerData as { config: Config; dsps: DspConfig[]; index: number }
  const log = createLogger(config).child({ worker: index })
  const pendingScrapes = new Map<number, (text: string) => void>()
  let nextId = 1
  const app = await startApp({
    config,
    log,
    dsps,
    seed: loadSeed(config),
    defaultMetrics: false,
    sharedPort: true,
    scrapeMetrics: () =>
      new Promise<string>((resolve) => {
        const id = nextId++
        pendingScrapes.set(id, resolve)
        port.postMessage({ type: 'scrape', id } satisfies ToMain)
      }),
  })
  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'metrics-json') {
      void app.metrics.registry.getMetricsAsJSON().then((json) => {
        port.postMessage({ type: 'metrics-json-result', id: msg.id, json } satisfies ToMain)
      })
    } else if (msg.type === 'scrape-result') {
      pendingScrapes.get(msg.id)?.(msg.text)
      pendingScrapes.delete(msg.id)
    } else if (msg.type === 'drain') {
      void app.drain().then(() => {
        port.postMessage({ type: 'drained' } satisfies ToMain)
        process.exit(0)
      })
    }
  })
  port.postMessage({ type: 'listening', port: app.port } satisfies ToMain)
}

runWorker().catch((err: unknown) => {
  console.error('worker failed to start:', err)
  process.exit(1)
})
