/**
 * The exchange's configuration: one typed, validated, frozen object built at start.
 * Nothing reads `process.env` after `loadConfig` returns.
 */
export interface DspConfig {
  readonly id: string
  /** Full URL of the DSP's bid endpoint, e.g. http://127.0.0.1:9001/bid */
  readonly endpoint: string
  /** Ceiling for one call to this DSP; the auction deadline may cut it shorter. */
  readonly timeoutMs: number
  /** Requests per second the DSP accepts from the whole fleet; 0 = no cap. */
  readonly maxQps: number
  /** Pooled keep-alive connections to this DSP's origin. */
  readonly connections: number
  /** Seat name used in our BidResponse when the DSP does not name one. */
  readonly seat: string
  /** gzip the outbound request body (only when the DSP accepts it). */
  readonly gzipRequest: boolean
  /** Larger response bodies are that DSP's failure (`too_large`). */
  readonly maxResponseBytes: number
  /* Optional below: absent means the default given, applied where the field is used. */
  /** The DSP's dialect (default `openrtb26`; `openrtb25` mirrors 2.6 fields into their 2.5 `ext` places). */
  readonly adapter?: DspAdapterName
  /** Media types the DSP buys; empty = all. A request qualifies when one of its imps offers one. */
  readonly mediaTypes?: readonly DspMediaType[]
  /** Sizes the DSP buys as `WxH` (banner formats and sizes, video player sizes); empty = all. */
  readonly formats?: readonly string[]
  /** `device.geo.country` values (ISO 3166-1 alpha-3) the DSP buys; empty = all, unknown = none. */
  readonly countries?: readonly string[]
  /** Call the DSP only for requests that offer a deal (`imp.pmp.deals`). Default false. */
  readonly dealsOnly?: boolean
  /** Share of calls (0..1) sent although their value score is below the threshold. Default 0.02. */
  readonly explorationRate?: number
  /** Idle keep-alive time when the DSP sends no `keep-alive: timeout=N` hint. Default 4000. */
  readonly keepAliveMs?: number
  /** HTTP client for this DSP; default the top-level `dspTransport`. */
  readonly transport?: DspTransportName
}

/**
 * The HTTP client of the fan-out: `socket`, a purpose-built keep-alive client on net.Socket (http:
 * endpoints; https ones use undici), or `undici`, an undici Pool.
 */
export const DSP_TRANSPORT_NAMES = ['socket', 'undici'] as const
export type DspTransportName = (typeof DSP_TRANSPORT_NAMES)[number]
export const DEFAULT_DSP_TRANSPORT: DspTransportName = 'socket'

export const DSP_ADAPTER_NAMES = ['openrtb26', 'openrtb25'] as const
export type DspAdapterName = (typeof DSP_ADAPTER_NAMES)[number]
export const DSP_MEDIA_TYPES = ['banner', 'video', 'audio', 'native'] as const
export type DspMediaType = (typeof DSP_MEDIA_TYPES)[number]

export interface AuctionConfig {
  /** Used when the request has no tmax. */
  readonly defaultTmaxMs: number
  /** A request's tmax is capped at this. */
  readonly maxTmaxMs: number
  /** Second-price increment, in currency units CPM. */
  readonly priceIncrement: number
  /** The one currency the exchange transacts in (ISO 4217). */
  readonly currency: string
  /** Kept back from the deadline for the auction, serialisation and the write. */
  readonly responseReserveMs: number
  /** Taken off each DSP's tmax for the network both ways. */
  readonly networkBufferMs: number
  /** Below this remaining time, DSPs are not called. */
  readonly minDspBudgetMs: number
  /** Seat id for house ads in our responses. */
  readonly houseSeat: string
}

export interface OverloadConfig {
  /** Auctions in progress above which new ones get 503 at once. */
  readonly maxInFlight: number
  /** Event-loop lag above which new auctions get 503 at once. */
  readonly maxEventLoopLagMs: number
}

export interface DecorationConfig {
  /** How long a looked-up user/page/domain/publisher fact stays in the in-process cache. */
  readonly ttlMs: number
  /** How long "no such key" stays cached. */
  readonly negativeTtlMs: number
  /** Size bound per part of the in-process cache. */
  readonly maxEntries: number
  /** Past this, the auction goes on undecorated (fail-open). */
  readonly deadlineMs: number
  /** ioredis command timeout on the request path. */
  readonly storeCommandTimeoutMs: number
}

/** Budgets, leases, pacing and notice tokens (src/pacing); README "Pacing, budgets and caps". */
export interface PacingConfig {
  /**
   * HMAC-SHA256 key of the notice tokens (NOTICE_SECRET, at least 16 characters). Every instance
   * behind one public URL must share it, or a notice reaching another instance is refused as forged.
   * When absent a random one is generated per process (fine for one instance) and a warning logged.
   */
  readonly noticeSecret: string
  readonly isNoticeSecretGenerated: boolean
  /** Most of a campaign's remaining budget one lease grant may take (0–1]. */
  readonly leaseFraction: number
  /** A won house impression waits this long for its billing notice before its money is released. */
  readonly reservationTtlMs: number
  /** Background lease refill, heartbeat and expiry sweep period. */
  readonly refillIntervalMs: number
  /** Participation rates are recomputed from plan vs delivery this often. */
  readonly paceIntervalMs: number
  /** Leases are spendable this long after the store last heard from the instance (fail-closed). */
  readonly leaseTtlMs: number
  readonly minLeaseImpressions: number
  /** Last-mile mode (one impression per grant) below live instances × this many impressions left. */
  readonly lastMileImpressions: number
  /** How long a user's frequency counters are reused from the decoration cache. */
  readonly frequencyCacheTtlMs: number
  /** A billing is still accepted this long past its token's expiry (clock skew between instances). */
  readonly commitGraceMs: number
}

export interface Config {
  readonly port: number
  readonly host: string
  readonly workers: number
  readonly logLevel: string
  /** `redis://host:port`; null = embedded in-memory store. */
  readonly dragonflyUrl: string | null
  /** null = the admin API refuses every call. */
  readonly adminToken: string | null
  readonly maxBodyBytes: number
  readonly overload: OverloadConfig
  readonly pacing: PacingConfig
  readonly decoration: DecorationConfig
  readonly auction: AuctionConfig
  readonly dsps: readonly DspConfig[]
  /** HTTP client for DSPs that do not name their own `transport` (DSP_TRANSPORT). */
  readonly dspTransport: DspTransportName
  /** Path of a seed JSON file (house ads, publishers, users), resolved against the config file. */
  readonly seed: string | null
  /** Public base URL of this exchange, for notice URLs in responses. */
  readonly publicUrl: string
  /** True when started with no configuration at all: simulated DSPs and sample data. */
  readonly demo: boolean
}
