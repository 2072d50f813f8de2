import { gzipSync } from 'node:zlib'
import type { AuctionContext } from '../../pipeline/auction-context.js'
import { EMPTY_LIST } from '../../pipeline/auction-context.js'
import { ADAPTERS } from './adapters/adapter-registry.js'
import { bodyWithTmax, type OutboundRequest, serialiseOpen } from './adapters/dsp-adapter.js'
import { buildOutboundRequest } from './adapters/outbound-request.js'
import type { DspEndpoint } from './dsp-endpoints.js'

/** Who we are in the supply chain, and the one currency we transact in. */
export interface ExchangeIdentity {
  /** The exchange's advertising system domain (schain `asi`). */
  readonly asi: string
  readonly currency: string
}

/**
 * The request bodies of one auction, each built once and shared: the canonical 2.6 request is
 * built once, serialised once per adapter in use (JSON without its closing brace), and a body
 * exists once per (adapter, tmax, gzip) — DSPs given the same tmax get the very same Buffer, so a
 * gzip DSP's body is compressed once however many gzip DSPs share it. Nothing is built for an
 * adapter no admitted DSP uses.
 *
 * One instance serves every auction of a bid stage: an auction's dispatch loop runs synchronously
 * from `begin` to `end`, and `end` drops every reference to the auction.
 */
export class OutboundBodies {
  #ctx: AuctionContext | null = null
  #outbound: OutboundRequest | null = null
  /** Per adapter: undefined = not built yet, null = the adapter threw. */
  readonly #opens: (string | null | undefined)[] = new Array(ADAPTERS.length).fill(undefined)
  readonly #keys: number[] = []
  readonly #bodies: Buffer[] = []

  constructor(
    readonly identity: ExchangeIdentity,
    readonly nextId: () => string,
  ) {}

  begin(ctx: AuctionContext): void {
    this.#ctx = ctx
  }

  /** The body for this DSP with this tmax, or null when its adapter failed to build the request. */
  bodyFor(dsp: DspEndpoint, tmaxMs: number): Buffer | null {
    const key = (tmaxMs * ADAPTERS.length + dsp.adapterIndex) * 2 + (dsp.config.gzipRequest ? 1 : 0)
    const keys = this.#keys
    for (let i = 0; i < keys.length; i++) if (keys[i] === key) return this.#bodies[i]!
    const open = this.#openFor(dsp.adapterIndex)
    if (open === null) return null
    const json = bodyWithTmax(open, tmaxMs)
    const body = dsp.config.gzipRequest ? gzipSync(json, GZIP_OPTIONS) : Buffer.from(json)
    keys.push(key)
    this.#bodies.push(body)
    return body
  }

  end(): void {
    this.#ctx = null
    this.#outbound = null
    this.#opens.fill(undefined)
    this.#keys.length = 0
    this.#bodies.length = 0
  }

  #openFor(adapterIndex: number): string | null {
    const cached = this.#opens[adapterIndex]
    if (cached !== undefined) return cached
    let open: string | null
    try {
      open = serialiseOpen(ADAPTERS[adapterIndex]!.buildRequest(this.#canonical()))
    } catch {
      open = null // counted as adapter_threw on each DSP of this adapter; the auction goes on
    }
    this.#opens[adapterIndex] = open
    return open
  }

  #canonical(): OutboundRequest {
    if (this.#outbound !== null) return this.#outbound
    const ctx = this.#ctx!
    const signals = ctx.signals
    this.#outbound = buildOutboundRequest({
      request: ctx.request,
      floors: ctx.floors,
      bcat: signals?.bcat ?? EMPTY_LIST,
      badv: signals?.badv ?? EMPTY_LIST,
      currency: this.identity.currency,
      asi: this.identity.asi,
      tid: this.nextId(),
    })
    return this.#outbound
  }
}

/** Level 1: at ~1–2 KB of JSON it compresses nearly as well as the default, in less CPU. */
const GZIP_OPTIONS = { level: 1 }
