import type { DspConfig, DspTransportName } from '../../../config/config.js'
import type { DspCall } from '../dsp-call.js'
import { SocketTransport } from './socket-transport.js'
import { UndiciTransport } from './undici-transport.js'

/**
 * Carries one DSP's calls: keep-alive HTTP/1.1 POSTs to its bid endpoint, one request per
 * connection at a time, outcomes reported on the DspCall. Two implementations, chosen per DSP by
 * configuration (`dspTransport`, a DSP's `transport`):
 * - `socket` (socket-transport.ts): a purpose-built client on net.Socket, http: endpoints only;
 * - `undici` (undici-transport.ts): an undici Pool driven through `dispatch`.
 * Both obey the same contract, checked by the same tests (fan-out.serial.test.ts).
 */
export interface DspTransport {
  readonly name: DspTransportName
  /**
   * Sends `body` (already serialised, gzipped when the DSP asks) and settles `call` exactly once,
   * never throwing: a failure is reported with `call.fail`, possibly before this returns.
   */
  send(body: Buffer, call: DspCall): void
  /** Opens up to `count` connections ahead of traffic (no request is sent); resolves when all tried. */
  warm(count: number): Promise<void>
  /** Connected sockets ready for a request. */
  readonly idleCount: number
  /** Closes the connections: calls in flight fail as `network` (socket) or are let finish (undici). */
  close(): Promise<void>
}

/** Request headers, as the flat [name, value, …] list both transports take, fixed per DSP. */
export type RequestHeaders = readonly string[]

/**
 * The DSP's own `transport`, else `requested`. The socket transport speaks plain http only: for an
 * https endpoint it falls back to undici (config validation refuses it when a DSP asks explicitly).
 */
export function createDspTransport(
  config: DspConfig,
  headers: RequestHeaders,
  requested: DspTransportName,
): DspTransport {
  const name = config.transport ?? requested
  if (name === 'socket' && new URL(config.endpoint).protocol === 'http:') {
    return new SocketTransport(config, headers)
  }
  return new UndiciTransport(config, headers)
}
