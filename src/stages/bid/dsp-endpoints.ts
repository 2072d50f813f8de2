import { Pool } from 'undici'
import type { DspConfig } from '../../config/config.js'
import type { DspMetrics } from '../../metrics/metrics.js'

/** A configured DSP with its connection pool and pre-resolved metrics: built once at start. */
export interface DspEndpoint {
  readonly index: number
  readonly config: DspConfig
  readonly pool: Pool
  /** Path (and query) of the bid endpoint on the pool's origin. */
  readonly path: string
  /** Request headers as a flat [name, value, ...] array, computed once. */
  readonly headers: readonly string[]
  readonly metrics: DspMetrics
}

/**
 * One undici Pool per DSP with explicit connections and timeouts (undici's defaults are minutes):
 * keep-alive, no pipelining (a slow answer must not hold up the next auction's call behind it).
 */
export function createDspEndpoints(
  dsps: readonly DspConfig[],
  metricsFor: (id: string) => DspMetrics,
): DspEndpoint[] {
  return dsps.map((config, index) => {
    const url = new URL(config.endpoint)
    const pool = new Pool(url.origin, {
      connections: config.connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 60_000,
      headersTimeout: config.timeoutMs,
      bodyTimeout: config.timeoutMs,
      connectTimeout: Math.max(config.timeoutMs, 1_000),
    })
    const headers = [
      'content-type',
      'application/json',
      'x-openrtb-version',
      '2.6',
      'accept-encoding',
      'gzip',
    ]
    if (config.gzipRequest) headers.push('content-encoding', 'gzip')
    return { index, config, pool, path: url.pathname + url.search, headers, metrics: metricsFor(config.id) }
  })
}

/** Opens connections ahead of traffic so the first auctions do not pay the TCP handshake. */
export async function warmDspPools(endpoints: readonly DspEndpoint[], perDsp = 2): Promise<void> {
  await Promise.all(
    endpoints.flatMap((dsp) =>
      Array.from({ length: Math.min(perDsp, dsp.config.connections) }, () =>
        dsp.pool
          .request({ method: 'OPTIONS', path: dsp.path, headersTimeout: 1_000, bodyTimeout: 1_000 })
          .then((res) => res.body.dump())
          .catch(() => undefined),
      ),
    ),
  )
}

export async function closeDspPools(endpoints: readonly DspEndpoint[]): Promise<void> {
  await Promise.all(endpoints.map((dsp) => dsp.pool.close().catch(() => dsp.pool.destroy())))
}
