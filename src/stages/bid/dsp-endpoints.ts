import type { Socket } from 'node:net'
import { buildConnector, Pool } from 'undici'
import type { DspConfig } from '../../config/config.js'
import type { DspMetrics } from '../../metrics/metrics.js'
import { ADAPTERS, adapterIndexOf } from './adapters/adapter-registry.js'
import { type DspAdapter, requestHeaders } from './adapters/dsp-adapter.js'

/** A configured DSP with its connection pool, adapter and pre-resolved metrics: built once at start. */
export interface DspEndpoint {
  readonly index: number
  readonly config: DspConfig
  readonly pool: Pool
  /** Path (and query) of the bid endpoint on the pool's origin. */
  readonly path: string
  /** Request headers as a flat [name, value, ...] array, computed once. */
  readonly headers: readonly string[]
  readonly metrics: DspMetrics
  readonly adapter: DspAdapter
  /** The adapter's place in ADAPTERS: DSPs sharing it share one serialised request per auction. */
  readonly adapterIndex: number
  /** Connections opened ahead of traffic, handed to the pool as it grows. */
  readonly warm: WarmSockets
}

/** Pool connections opened at start (TCP, and TLS for https DSPs), per DSP. */
const WARM_CONNECTIONS = 8
/** Subtracted from a DSP's `keep-alive: timeout=N` hint so we never reuse a socket it is closing. */
const KEEP_ALIVE_THRESHOLD_MS = 1_000
/** The longest idle time a DSP's keep-alive hint can get us to keep a socket. */
const KEEP_ALIVE_MAX_MS = 60_000
/**
 * undici's headers/body timeouts are coarse (its fast timers tick every ~0.5 s) and only a backstop:
 * the fan-out's one timer per auction is the real deadline. A constant per DSP lets undici refresh
 * its timer instead of allocating one per call.
 */
const BACKSTOP_TIMEOUT_MS = 2_000

/**
 * One undici Pool per DSP origin, explicit about everything undici defaults to minutes or infinity:
 * `connections` (a bulkhead), no pipelining (a slow answer must not hold up the next auction's call
 * behind it), keep-alive that follows the DSP's own `keep-alive: timeout=N` hint (less a threshold,
 * capped) or `keepAliveMs` without one, and connect/headers/body timeouts.
 */
export function createDspEndpoints(
  dsps: readonly DspConfig[],
  metricsFor: (id: string) => DspMetrics,
): DspEndpoint[] {
  return dsps.map((config, index) => {
    const url = new URL(config.endpoint)
    const connectTimeoutMs = Math.max(config.timeoutMs, 1_000)
    const warm = new WarmSockets(url, buildConnector({ timeout: connectTimeoutMs }))
    const pool = new Pool(url.origin, {
      connections: config.connections,
      pipelining: 1,
      keepAliveTimeout: config.keepAliveMs ?? 4_000,
      keepAliveMaxTimeout: KEEP_ALIVE_MAX_MS,
      keepAliveTimeoutThreshold: KEEP_ALIVE_THRESHOLD_MS,
      headersTimeout: BACKSTOP_TIMEOUT_MS,
      bodyTimeout: BACKSTOP_TIMEOUT_MS,
      connect: warm.connector,
    })
    const adapterIndex = adapterIndexOf(config.adapter)
    const adapter = ADAPTERS[adapterIndex]!
    return {
      index,
      config,
      pool,
      path: url.pathname + url.search,
      headers: requestHeaders(adapter, config.gzipRequest),
      metrics: metricsFor(config.id),
      adapter,
      adapterIndex,
      warm,
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
  await Promise.all(endpoints.map((dsp) => dsp.warm.open(Math.min(perDsp, dsp.config.connections))))
}

export async function closeDspPools(endpoints: readonly DspEndpoint[]): Promise<void> {
  for (const dsp of endpoints) dsp.warm.destroy()
  await Promise.all(endpoints.map((dsp) => dsp.pool.close().catch(() => dsp.pool.destroy())))
}

type Connector = buildConnector.connector
type ConnectOptions = buildConnector.Options

/**
 * Connected sockets waiting for the pool. undici builds a connection when a call needs one; this
 * connector hands it a warm socket while any is left alive, and otherwise connects as usual.
 */
export class WarmSockets {
  readonly #idle: Socket[] = []
  readonly #target: ConnectOptions

  constructor(
    url: URL,
    readonly connect: Connector,
  ) {
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
    this.#target = { host: url.host, hostname, protocol: url.protocol, port: url.port }
  }

  get idleCount(): number {
    return this.#idle.length
  }

  /** The pool's `connect` option. */
  readonly connector: Connector = (options, callback) => {
    const socket = this.#take()
    // Called back on a later tick, as a real connect is: undici does not expect it synchronously.
    if (socket !== null) process.nextTick(callback, null, socket)
    else this.connect(options, callback)
  }

  open(count: number): Promise<void> {
    const attempts: Promise<void>[] = []
    for (let i = 0; i < count; i++) {
      attempts.push(
        new Promise((resolve) => {
          this.connect(this.#target, (err, socket) => {
            if (err === null && socket !== null) this.#keep(socket as Socket)
            resolve()
          })
        }),
      )
    }
    return Promise.all(attempts).then(() => undefined)
  }

  destroy(): void {
    for (const socket of this.#idle.splice(0)) socket.destroy()
  }

  #keep(socket: Socket): void {
    // While idle here the socket has no owner: drop it when the DSP closes it, ignore its errors.
    const drop = (): void => {
      const i = this.#idle.indexOf(socket)
      if (i >= 0) this.#idle.splice(i, 1)
    }
    socket.on('error', ignore).once('close', drop)
    ;(socket as WarmSocket)[RELEASE] = () => socket.off('error', ignore).off('close', drop)
    this.#idle.push(socket)
  }

  #take(): Socket | null {
    for (let socket = this.#idle.pop(); socket !== undefined; socket = this.#idle.pop()) {
      ;(socket as WarmSocket)[RELEASE]?.()
      if (!socket.destroyed && socket.readyState === 'open') return socket
      socket.destroy()
    }
    return null
  }
}

const RELEASE = Symbol('release warm socket')
type WarmSocket = Socket & { [RELEASE]?: () => void }

function ignore(): void {}
