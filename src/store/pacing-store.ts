import type { Campaign } from '../pacing/campaign.js'
import type { FrequencyCounts } from '../pacing/frequency.js'

/**
 * Campaign budgets, leases, notice de-duplication and frequency counters, behind one interface:
 * Dragonfly (Lua scripts, one per operation, each touching one campaign's or one user's keys) or an
 * in-memory map with the same semantics. None of it runs on the request path: leases are taken and
 * returned in the background, commits run in notice handlers.
 *
 * Money is integer micros; times are epoch ms from the caller's clock (instances must keep their
 * clocks within `reapMarginMs` of each other, which NTP does by orders of magnitude).
 */
export interface PacingStore {
  readonly kind: 'memory' | 'dragonfly'
  /** Never rejects: true once the store answers (it keeps reconnecting in the background). */
  connect(): Promise<boolean>
  isAvailable(): boolean
  close(): Promise<void>

  /** Creates or replaces the campaign's definition and bumps the campaign version. */
  putCampaign(campaign: Campaign): Promise<void>
  getCampaign(id: string): Promise<Campaign | null>
  /** Every readable campaign; unreadable hashes are skipped with a warning. */
  loadCampaigns(): Promise<Campaign[]>
  /** Bumped by every putCampaign (and by hand after a redis-cli edit); 0 when never written. */
  campaignVersion(): Promise<number>

  /** Records that `instance` is alive; answers how many instances are, and whether it was unknown. */
  heartbeat(instance: string, nowMs: number, liveWindowMs: number): Promise<Heartbeat>
  /**
   * Takes up to `want` from the campaign's remaining budget into the instance's lease (the LEASE
   * script), hands over the commits other instances made for this instance's reservations, and
   * reports the campaign's delivery. Rolls the daily counters over at UTC midnight.
   */
  lease(request: LeaseRequest): Promise<LeaseReply>
  /** Gives unspent lease back to the campaign's budget; answers what was actually returned. */
  returnLease(
    instance: string,
    campaignId: string,
    micros: number,
    imps: number,
    nowMs: number,
  ): Promise<Amounts>
  /**
   * Counts a billing notice once (the reservation's marker, SET NX), and leaves its follow-up
   * (frequency counters, local settlement, metrics) unconfirmed: 'counted' the first time;
   * 'unconfirmed' when an earlier attempt counted it but nobody confirmed it yet (that attempt got no
   * answer, e.g. a timeout on a paused store, and answered 503); 'duplicate' once confirmed;
   * 'expired' when late or when the reservation expired first. The spend is moved at most once
   * whatever the outcome: a retry never counts again.
   */
  commit(request: CommitRequest): Promise<CommitOutcome>
  /**
   * Claims the follow-up of a counted billing ('counted' or 'unconfirmed' from commit): true for
   * exactly one caller, false after. One atomic step, so two handlers racing with one notice (a
   * retry and a duplicate, on two instances) never both follow up.
   */
  confirmCommit(campaignId: string, owner: string, seq: number): Promise<boolean>
  /**
   * Settles reservations that expired without a notice: each is marked expired unless a billing
   * got there first, in which case its committed price is answered. One atomic step per
   * reservation, so a billing and an expiry can never both take effect.
   */
  resolveExpired(request: ResolveRequest): Promise<Resolution[]>
  /**
   * Returns the leases of instances silent for `deadAfterMs` to their campaigns' budgets. One
   * instance at a time (a lock held for `lockMs`); answers what it reclaimed.
   */
  reap(self: string, nowMs: number, deadAfterMs: number, lockMs: number): Promise<ReapResult>
  /** A campaign's delivery and the leases out, for GET /campaigns/:id. */
  ledger(campaignId: string, nowMs: number): Promise<LedgerView>

  /**
   * Records a notice that commits no reservation (win/loss/DSP billing) once within `ttlMs`: 'counted'
   * the first time, 'unconfirmed' when an earlier attempt recorded it but nobody confirmed it yet,
   * 'duplicate' once confirmed. Same two steps as commit/confirmCommit.
   */
  markNotice(key: string, ttlMs: number): Promise<NoticeMark>
  /** Claims the follow-up (the forward to the DSP) of a marked notice: true for exactly one caller. */
  confirmNotice(key: string): Promise<boolean>
  /** One more impression for each window, each counter living `ms` from its first impression. */
  incrementFrequency(
    userId: string,
    campaignId: string,
    windows: readonly FrequencyWindowArg[],
    nowMs: number,
  ): Promise<void>
  /** The user's live counters (admin and tests; auctions read them in the decoration round trip). */
  readFrequency(userId: string, nowMs: number): Promise<FrequencyCounts>
}

export interface Heartbeat {
  readonly liveInstances: number
  /** The instance was not registered: first beat, or reaped after a long silence. */
  readonly wasUnknown: boolean
}

export interface Amounts {
  readonly micros: number
  readonly imps: number
}

export interface LeaseRequest {
  readonly instance: string
  readonly campaignId: string
  readonly nowMs: number
  /** What the instance would like added to its lease; 0 = only report and hand over commits. */
  readonly wantMicros: number
  readonly wantImps: number
  /** One impression at the dearest price seen: a grant below it buys nothing. */
  readonly unitMicros: number
  /**
   * What the instance holds of its lease and has not reserved: with what remains it may make up one
   * more impression, so the campaign is exhausted for this instance only when both together fall
   * short (counted at most up to the lease the store has on record for it).
   */
  readonly heldMicros: number
  readonly heldImps: number
  readonly liveInstances: number
  /** Most of the remaining budget one grant may take, in millionths (shrinks leases near the end). */
  readonly leaseFractionPpm: number
  /** Below `liveInstances × lastMileUnits` impressions left, grants are one impression at a time. */
  readonly lastMileUnits: number
  /** At most this many handed-over commits per call. */
  readonly maxInbox: number
}

export interface LeaseReply {
  readonly grantMicros: number
  readonly grantImps: number
  /** Nearly exhausted: the grant was at most one impression. */
  readonly isLastMile: boolean
  /** Less than one impression is left to this instance: what remains plus what it holds unreserved. */
  readonly isExhausted: boolean
  readonly ledger: Ledger
  /** Commits of this instance's reservations made by other instances. */
  readonly inbox: readonly InboxEntry[]
}

/** A campaign's central accounts. Invariants: daySpent + leased ≤ daily, spent + leased ≤ lifetime. */
export interface Ledger {
  /** Committed by billing notices, over the flight and today (UTC). */
  readonly spentMicros: number
  readonly imps: number
  readonly daySpentMicros: number
  readonly dayImps: number
  /** Granted to instances and neither committed nor returned. */
  readonly leasedMicros: number
  readonly leasedImps: number
  /** Left to grant after this call; -1 = unlimited. */
  readonly remainingMicros: number
  readonly remainingImps: number
}

export interface InboxEntry {
  readonly seq: number
  readonly priceMicros: number
}

export interface CommitRequest {
  readonly campaignId: string
  /** The instance holding the reservation, and its number there. */
  readonly owner: string
  readonly seq: number
  /** The instance handling the notice: when it is not the owner, the owner is told via its inbox. */
  readonly handler: string
  readonly priceMicros: number
  /** The reservation came out of a lease (budgeted campaign): the lease shrinks by the price. */
  readonly isLeased: boolean
  readonly expiresAtMs: number
  readonly nowMs: number
  /** Accepted this long past `expiresAtMs` (clock skew between instances). */
  readonly graceMs: number
  /** The de-duplication marker lives until this time (past any possible retry). */
  readonly markerUntilMs: number
}

export type CommitOutcome = 'counted' | 'unconfirmed' | 'duplicate' | 'expired'

export type NoticeMark = 'counted' | 'unconfirmed' | 'duplicate'

export interface ResolveRequest {
  readonly instance: string
  readonly campaignId: string
  readonly seqs: readonly number[]
  readonly nowMs: number
  readonly markerTtlMs: number
}

/** null = released (no billing will ever count it); a number = it was billed at this price. */
export interface Resolution {
  readonly seq: number
  readonly committedMicros: number | null
}

export interface ReapResult {
  readonly instances: number
  readonly micros: number
  readonly imps: number
}

export interface LedgerView extends Ledger {
  /** Outstanding lease per instance. */
  readonly leases: Readonly<Record<string, Amounts>>
}

export interface FrequencyWindowArg {
  /** The window's letter (frequency.ts WINDOW_LETTERS). */
  readonly letter: string
  readonly ms: number
}

/**
 * Key names in Dragonfly (DESIGN.md §4). A campaign's keys share the hash tag `{c:ID}` and a user's
 * counters `{u:ID}`, so every script touches one slot (cluster mode, or emulated with
 * --lock_on_hashtags). The fleet's keys share `{fleet}`.
 */
export const PacingKeys = {
  /** Hash: the campaign's definition (campaign.ts campaignToFields), written by the API or by hand. */
  campaign: (id: string) => `ad:campaign:{c:${id}}`,
  /** Hash: spent, imps, daySpent, dayImps, day (days since epoch, UTC), leased, leasedImps. */
  ledger: (id: string) => `ad:campaign:{c:${id}}:ledger`,
  /** Hash: `<instance>:m` and `<instance>:i`, the lease each instance holds. */
  leases: (id: string) => `ad:campaign:{c:${id}}:leases`,
  /** List of `<seq>:<priceMicros>`: commits of the instance's reservations made by others. */
  inbox: (id: string, instance: string) => `ad:campaign:{c:${id}}:inbox:${instance}`,
  /** String: `c:<priceMicros>` once billed, `x` once expired; SET NX decides which came first. */
  reservation: (id: string, instance: string, seq: number) => `ad:notice:{c:${id}}:${instance}.${seq}`,
  /**
   * String, present from a billing's commit until one handler confirms it (DEL answers 1 once):
   * its follow-up is still to do. Absent beside a `c:` marker = confirmed (or counted by a version
   * that did not confirm).
   */
  unconfirmed: (id: string, instance: string, seq: number) => `ad:notice:{c:${id}}:${instance}.${seq}:u`,
  /**
   * String: de-duplication of a notice that commits no reservation (DSP win/billing/loss): `p` from
   * the first attempt until one handler confirms it, then `1`.
   */
  notice: (key: string) => `ad:notice:${key}`,
  /** Hash: `<w>/<campaignId>` = `<count>:<expiresAtMs>`; the key lives as long as its longest window. */
  frequency: (userId: string) => `ad:fc:{u:${userId}}`,
  /** Set of campaign ids, so loading needs no SCAN. */
  campaignIds: 'ad:campaigns',
  /** INCR counter, bumped on every campaign write; instances reload when it moves. */
  campaignVersion: 'ad:campaign:version',
  /** Sorted set: instance → last heartbeat (epoch ms). */
  instances: 'ad:pacing:{fleet}:instances',
  /** String: the reaper's lock. */
  reaperLock: 'ad:pacing:{fleet}:reaper',
} as const

/** A ledger with nothing in it (a campaign never leased from). */
export const EMPTY_LEDGER: Ledger = Object.freeze({
  spentMicros: 0,
  imps: 0,
  daySpentMicros: 0,
  dayImps: 0,
  leasedMicros: 0,
  leasedImps: 0,
  remainingMicros: -1,
  remainingImps: -1,
})

export const DAY_MS = 86_400_000
