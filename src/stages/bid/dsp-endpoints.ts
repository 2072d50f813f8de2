import type { DspConfig, DspTransportName } from '../../config/config.js'
import { DEFAULT_DSP_TRANSPORT } from '../../config/config.js'
import type { DspMetrics } from '../../metrics/metrics.js'
import { ADAPTERS, adapterIndexOf } from './adapters/adapter-registry.js'
import { type DspAdapter, requestHeaders } from './adapters/dsp-adapter.js'
import { createDspTransport, type DspTransport } from './transport/dsp-transport.js'

/** A configured DSP with its transport, adapter and pre-resolved metrics: built once at start. */
export interface DspEndpoint {
  readonly index: number
  readonly config: DspConfig
  /** Carries the calls: a connection pool to the DSP's origin (transport/dsp-transport.ts). */
  readonly transport: DspTransport
  readonly metrics: DspMetrics
  readonly adapter: DspAdapter
  /** The adapter's place in ADAPTERS: DSPs sharing it share one serialised request per auction. */
  readonly adapterIndex: number
}

export interface DspEndpointOptions {
  /** For DSPs that do not name their own `transport`; default DEFAULT_DSP_TRANSPORT. */
  readonly transport?: DspTransportName
}

/** Connections opened at start (TCP, and TLS for https DSPs), per DSP. */
const WARM_CONNECTIONS = 8

/**
 * One transport per DSP origin (its own `transport`, else `options.transport`), with the request
 * headers of its adapter computed once.
 */
export function createDspEndpoints(
  dsps: readonly DspConfig[],
  metricsFor: (id: string) => DspMetrics,
  options: DspEndpointOptions = {},
): DspEndpoint[] {
  const requested = options.transport ?? DEFAULT_DSP_TRANSPORT
  return dsps.map((config, index) => {
    const adapterIndex = adapterIndexOf(config.adapter)
    const adapter = ADAPTERS[adapterIndex]!
    return {
      index,
      config,
      transport: createDspTransport(config, requestHeaders(adapter, config.gzipRequest), requested),
      metrics: metricsFor(config.id),
      adapter,
      adapterIndex,
    }
  })
}

/**
 * Opens connections ahead of traffic so the first auctions do not pay the TCP (and TLS) handshake.
 * The sockets are only connected, no HTTP request is sent: DSPs see no warm-up traffic and need no
 * endpoint for it. Resolves once every attempt has connected or failed (a DSP that is down is
 * not an error here: its calls fail as `network` until it is back).
 */
export async function warmDspPools(
  endpoints: readonly DspEndpoint[],
  perDsp = WARM_CONNECTIONS,
): Promise<void> {
  await Promise.all(endpoints.map((dsp) => dsp.transport.warm(Math.min(perDsp, dsp.config.connections))))
}

export async function closeDspPools(endpoints: readonly DspEndpoint[]): Promise<void> {
  await Promise.all(endpoints.map((dsp) => dsp.transport.close()))
}
