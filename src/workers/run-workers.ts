import { Worker } from 'node:worker_threads'
import { AggregatorRegistry, type Registry } from 'prom-client'
import type { Config, DspConfig } from '../config/config.js'
import { claimPort } from '../http/claim-port.js'
import type { MetricsJson, ToMain, ToWorker } from './messages.js'

export interface WorkerPool {
  /** Ports the workers listen on (all the same: SO_REUSEPORT shares one port among them). */
  readonly port: number
  /** Asks every worker to drain; resolves when all have exited. */
  drain(): Promise<void>
}

export interface WorkerPoolOptions {
  readonly config: Config
  readonly dsps: readonly DspConfig[]
  /** The main thread's own metrics (process and Node metrics, once for the whole process). */
  readonly processRegistry: Registry
  readonly log: { info(obj: object, msg: string): void; error(obj: object, msg: string): void }
}

/**
 * Runs `config.workers` uWS apps in worker threads on one port (uWS listens with SO_REUSEPORT,
 * so the kernel spreads connections over them). Each worker has its own pipeline, DSP pools,
 * store connection and metrics; a scrape on any worker is answered with the whole process's
 * metrics, merged here from every worker plus this thread's process metrics.
 */
export async function runWorkers(options: WorkerPoolOptions): Promise<WorkerPool> {
  const entry = new URL('./worker-entry.js', import.meta.url)
  // The workers bind with SO_REUSEPORT; first make sure no other process holds the port (and turn
  // port 0 into one concrete port that all workers share).
  const port = await claimPort(options.config.host, options.config.port)
  const config = { ...options.config, port }
  const workers: Worker[] = []
  const pendingJson = new Map<
    number,
    { remaining: number; parts: MetricsJson[]; resolve: (text: string) => void }
  >()
  let nextId = 1

  const collect = async (): Promise<string> => {
    const id = nextId++
    const own = await options.processRegistry.getMetricsAsJSON()
    return new Promise<string>((resolve) => {
      pendingJson.set(id, { remaining: workers.length, parts: [own], resolve })
      for (const w of workers) w.postMessage({ type: 'metrics-json', id } satisfies ToWorker)
      // A worker that died does not answer: merge what arrived rather than hang the scrape.
      setTimeout(() => finishCollect(id), 2_000).unref()
    })
  }
  const finishCollect = (id: number): void => {
    const pending = pendingJson.get(id)
    if (pending === undefined) return
    pendingJson.delete(id)
    void AggregatorRegistry.aggregate(pending.parts).metrics().then(pending.resolve)
  }

  const ports = await Promise.all(
    Array.from({ length: options.config.workers }, (_, index) => {
      const worker = new Worker(entry, { workerData: { config, dsps: options.dsps, index } })
      workers.push(worker)
      return new Promise<number>((resolve, reject) => {
        worker.on('error', (err) => {
          options.log.error({ err, worker: index }, 'worker failed')
          reject(err)
        })
        worker.on('message', (msg: ToMain) => {
          if (msg.type === 'listening') resolve(msg.port)
          else if (msg.type === 'scrape') {
            void collect().then((text) =>
              worker.postMessage({ type: 'scrape-result', id: msg.id, text } satisfies ToWorker),
            )
          } else if (msg.type === 'metrics-json-result') {
            const pending = pendingJson.get(msg.id)
            if (pending === undefined) return
            pending.parts.push(msg.json)
            if (--pending.remaining === 0) finishCollect(msg.id)
          }
        })
      })
    }),
  )
  options.log.info({ workers: workers.length, port: ports[0] }, 'workers listening')

  return {
    port: ports[0]!,
    async drain() {
      await Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve) => {
              w.once('exit', () => resolve())
              w.postMessage({ type: 'drain' } satisfies ToWorker)
            }),
        ),
      )
    },
  }
}
