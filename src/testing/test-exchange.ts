import { type RunningApp, startApp } from '../app.js'
import type { Seed } from '../catalog/seed.js'
import { configFromObject } from '../config/load-config.js'
import type { FactsSource } from '../stages/decorate/decorate-stage.js'

const SILENT_LOG = { info() {}, warn() {}, error() {} } as never

export interface TestExchange {
  readonly app: RunningApp
  readonly url: string
  /** POSTs a bid request (object → JSON, string/Buffer sent as is). */
  auction(
    body: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; text: string; json: unknown; ms: number }>
  close(): Promise<void>
}

/** Starts a real exchange (uWS, undici, the whole pipeline) on 127.0.0.1 with a free port. */
export async function startTestExchange(
  raw: Record<string, unknown> = {},
  extra: { seed?: Seed | null; facts?: FactsSource | null } = {},
): Promise<TestExchange> {
  // Event-loop-lag shedding is off unless a test asks for it: a busy test machine must not turn
  // functional tests into 503s (the overload tests configure it explicitly).
  const config = configFromObject({
    port: 0,
    host: '127.0.0.1',
    ...raw,
    overload: { maxEventLoopLagMs: 10_000, ...(raw['overload'] as object | undefined) },
  })
  const app = await startApp({
    config,
    log: SILENT_LOG,
    seed: extra.seed ?? null,
    ...(extra.facts !== undefined ? { facts: extra.facts } : {}),
    defaultMetrics: false,
  })
  const url = `http://127.0.0.1:${app.port}`
  return {
    app,
    url,
    async auction(body, headers = {}) {
      const startedAt = performance.now()
      const payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body)
      const res = await fetch(`${url}/openrtb2/auction`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: payload,
      })
      const text = await res.text()
      let json: unknown = null
      try {
        json = text === '' ? null : JSON.parse(text)
      } catch {
        json = null
      }
      return { status: res.status, text, json, ms: performance.now() - startedAt }
    },
    close: () => app.drain(),
  }
}

/** A minimal valid banner request; fields can be overridden. */
export function bannerRequest(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'req-1',
    imp: [{ id: '1', banner: { format: [{ w: 300, h: 250 }] } }],
    site: { domain: 'news.example', page: 'https://news.example/a' },
    device: { ua: 'Mozilla/5.0', ip: '203.0.113.9' },
    user: { id: 'u-test' },
    tmax: 100,
    ...overrides,
  }
}
