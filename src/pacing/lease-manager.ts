import { hostname } from 'node:os'
import type { AdRecord } from '../catalog/ad.js'
import type { PacingMetrics, PacingSkipReason, PacingStoreOp } from '../metrics/metrics.js'
import type { CommitOutcome, LeaseReply, NoticeMark, PacingStore } from '../store/pacing-store.js'
import { type Campaign, impressionCostMicros, isLive } from './campaign.js'
import { CampaignLease, Reservation } from './campaign-lease.js'
import { nextPacerState } from './even-pacer.js'
import { capWindows } from './frequency.js'
import { leaseWant } from './lease-sizing.js'
import { LocalFrequency } from './local-frequency.js'
import { type NoticeClaims, splitReservationKey } from './notice-token.js'
import { PacingCounters } from './pacing-counters.js'
import { ReservationTable } from './reservation-table.js'

/** The knobs of leases and pacing (config `pacing`); see PACING_DEFAULTS for the values and units. */
export interface PacingSettings {
  /** Background refill tick: heartbeat, lease top-ups, expiry sweep. */
  readonly refillIntervalMs: number
  /** Recompute of each campaign's participation rate from plan vs delivery. */
  readonly paceIntervalMs: number
  /** A won impression's billing must arrive within this, or its reservation is released. */
  readonly reservationTtlMs: number
  /** A lease is spendable this long after the last heartbeat the store accepted (fail-closed). */
  readonly leaseTtlMs: number
  /** Most of a campaign's remaining budget one grant may take (0–1]. */
  readonly leaseFraction: number
  readonly minLeaseImpressions: number
  /** Last-mile mode below `live instances × lastMileImpressions` impressions left. */
  readonly lastMileImpressions: number
  /** Billing accepted this long past a token's expiry (clock skew between instances). */
  readonly commitGraceMs: number
  /** Extra silence before the reaper takes a dead instance's leases (clock skew, slow exits). */
  readonly reapMarginMs: number
  readonly reapIntervalMs: number
  /** How long a billing counted here counts locally against caps (≥ the counters' cache TTL). */
  readonly frequencyRecentMs: number
  /** Unspent lease of a campaign no auction wanted for this long goes back to the store. */
  readonly idleReturnMs: number
  /** Full campaign reload even when the version did not move (covers hand edits without INCR). */
  readonly resyncIntervalMs: number
}

export const PACING_DEFAULTS: PacingSettings = Object.freeze({
  refillIntervalMs: 500,
  paceIntervalMs: 2_000,
  reservationTtlMs: 300_000,
  leaseTtlMs: 30_000,
  leaseFraction: 0.1,
  minLeaseImpressions: 10,
  lastMileImpressions: 2,
  commitGraceMs: 5_000,
  reapMarginMs: 30_000,
  reapIntervalMs: 10_000,
  frequencyRecentMs: 2_000,
  idleReturnMs: 60_000,
  resyncIntervalMs: 30_000,
})

export interface LeaseManagerDeps {
  readonly store: PacingStore
  readonly settings: PacingSettings
  readonly metrics: PacingMetrics
  readonly log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void }
  /** Stable part of the instance id; host-pid-random when absent. */
  readonly instanceName?: string
  /** Epoch ms (tests pass a fake clock). */
  readonly now?: () => number
}

/**
 * What a notice handler answers: 'counted' for the one attempt that counted the notice and did its
 * follow-up, 'duplicate' for every other attempt, 'store_error' when the store could not say (503:
 * the caller retries, and a retry of a notice that did count is recognised and followed up once).
 */
export type BillingOutcome = 'counted' | 'duplicate' | 'expired' | 'store_error'
export type NoticeOutcome = 'counted' | 'duplicate'

/** A campaign's state as GET /campaigns/:id shows it. */
export interface CampaignStatusView {
  readonly campaign: Campaign
  readonly ledger: Awaited<ReturnType<PacingStore['ledger']>> | null
  readonly local: Readonly<Record<string, unknown>> | null
}

/** Kept past any retry of a notice: the marker must outlive every token that could still count. */
const MARKER_RETENTION_MS = 3_600_000
const MAX_INBOX = 1_000

/**
 * Owns this instance's side of budgets: campaign definitions, local leases, reservations and the
 * pacing rates, with a background loop that talks to the store. The request path only calls the
 * synchronous methods (campaign, newReservation, markWon, release): Map lookups and integer math.
 */
export class LeaseManager {
  readonly frequency: LocalFrequency
  readonly counters = new PacingCounters()
  readonly #deps: LeaseManagerDeps
  readonly #s: PacingSettings
  readonly #now: () => number
  readonly #campaigns = new Map<string, CampaignLease>()
  readonly #table = new ReservationTable()
  readonly #unresolved: Reservation[] = []
  readonly #baseId: string
  readonly #generations = new Set<string>()
  #id: string
  #generation = 0
  #seq = 0
  /** The store accepted a heartbeat under the current id. */
  #isKnown = false
  #lastBeatOkMs = 0
  #leaseValidUntilMs = 0
  #liveInstances = 1
  #campaignVersion = -1
  #nextResyncAtMs = 0
  #nextPaceAtMs = 0
  #nextReapAtMs = 0
  #isLoaded = false
  #timer: NodeJS.Timeout | null = null
  #ticking: Promise<void> | null = null
  /** Refills started by requestRefill (outside a tick): stop() waits for them before returning leases. */
  readonly #onDemand = new Set<Promise<void>>()
  #isRefillScheduled = false
  #isStopped = false

  constructor(deps: LeaseManagerDeps) {
    this.#deps = deps
    this.#s = deps.settings
    this.#now = deps.now ?? Date.now
    this.frequency = new LocalFrequency(deps.settings.frequencyRecentMs)
    this.#baseId =
      deps.instanceName ?? `${hostname()}-${process.pid}-${Math.floor(Math.random() * 0xffffff).toString(36)}`
    this.#id = this.#baseId
    this.#generations.add(this.#id)
  }

  /** The id leases are held under now (changes after a lapse, see #lapse). */
  get instanceId(): string {
    return this.#id
  }

  /** Campaign definitions have been read from the store at least once. */
  get isLoaded(): boolean {
    return this.#isLoaded
  }

  get liveInstances(): number {
    return this.#liveInstances
  }

  get pendingReservations(): number {
    return this.#table.size
  }

  // ---------------------------------------------------------------------------------------------
  // Request path: synchronous, no store.

  /** Epoch ms by the manager's clock (the same one expiries are measured with). */
  now(): number {
    return this.#now()
  }

  campaign(id: string): CampaignLease | undefined {
    return this.#campaigns.get(id)
  }

  /**
   * Whether an ad of this campaign could be paced in now, for a filter that wants to skip dead
   * campaigns before the pace stage (it keeps few spares per imp): known, live, and for a budgeted
   * campaign, spendable and not out of budget.
   */
  canServe(campaignId: string, nowMs: number): boolean {
    const lease = this.#campaigns.get(campaignId)
    if (lease === undefined || !isLive(lease.campaign, nowMs)) return false
    if (!lease.isBudgeted) return true
    return this.canSpend(nowMs) && !(lease.mode === 'exhausted' && lease.availableMicros < lease.unitMicros)
  }

  /** Leases may be spent only while the store has heard from us within the lease TTL. */
  canSpend(nowMs: number): boolean {
    return nowMs <= this.#leaseValidUntilMs
  }

  /** Reserves one impression of `ad` from `lease` (already checked by tryReserve). */
  newReservation(lease: CampaignLease, ad: AdRecord, costMicros: number, capKey: string | null): Reservation {
    if (capKey !== null) this.frequency.addPending(capKey)
    this.counters.reservations.reserved++
    return new Reservation(this.#id, ++this.#seq, lease, ad, costMicros, capKey)
  }

  /** The imp was won: the reservation waits for its billing notice until it expires. */
  markWon(r: Reservation, nowMs: number): void {
    r.expiresAtMs = nowMs + this.#s.reservationTtlMs
    r.lease.recordWin(r.costMicros)
    this.#table.add(r)
  }

  /** The imp was lost (or the auction ended without an answer): the money is spendable again. */
  release(r: Reservation): void {
    this.#settleUnbilled(r)
    this.counters.reservations.released++
  }

  skip(reason: PacingSkipReason): void {
    this.counters.skipped[reason]++
  }

  /** Asks for a refill soon, off the request path (a lease ran short). Coalesced. */
  requestRefill(): void {
    if (this.#isRefillScheduled || this.#isStopped) return
    this.#isRefillScheduled = true
    setImmediate(() => {
      this.#isRefillScheduled = false
      // Not once stopping: a grant landing after stop() returned the leases would stay out until reaped.
      if (this.#isStopped || this.#ticking !== null || !this.#isKnown || !this.#deps.store.isAvailable())
        return
      const run = this.#refill(this.#now(), true).finally(() => this.#onDemand.delete(run))
      this.#onDemand.add(run)
    })
  }

  // ---------------------------------------------------------------------------------------------
  // Notices.

  /**
   * Counts a house ad's billing once, fleet-wide, in two steps. COMMIT moves the money once (first
   * time, retry of an unconfirmed one, duplicate or too late); then the one handler whose CONFIRM
   * succeeds does the follow-up: frequency counters, the committed-spend counter and 'counted'.
   * So a billing whose first attempt timed out after the store applied it (503) is followed up by
   * its retry, and two handlers racing never both follow up. When this instance holds the
   * reservation it is settled as soon as the commit is known; another instance learns it from its
   * inbox on its next lease call (or from the marker when the reservation expires).
   */
  async commitBilling(c: NoticeClaims): Promise<BillingOutcome> {
    const nowMs = this.#now()
    const priceMicros = impressionCostMicros(c.priceCpmMicros)
    const owner = splitReservationKey(c.key)
    if (owner === null) return 'store_error'
    let outcome: CommitOutcome
    try {
      outcome = await this.#deps.store.commit({
        campaignId: c.campaignId,
        owner: owner.instance,
        seq: owner.seq,
        handler: this.#id,
        priceMicros,
        isLeased: c.isLeased,
        expiresAtMs: c.expiresAtMs,
        nowMs,
        graceMs: this.#s.commitGraceMs,
        markerUntilMs: c.expiresAtMs + this.#s.commitGraceMs + MARKER_RETENTION_MS,
      })
    } catch {
      this.#storeError('commit')
      return 'store_error'
    }
    if (outcome === 'duplicate' || outcome === 'expired') return outcome
    // Counted, now or by an attempt that got no answer: the money has moved in the store either way.
    const isOwn = this.#generations.has(owner.instance)
    if (isOwn) this.#applyCommit(owner.seq, priceMicros, nowMs)
    try {
      if (!(await this.#deps.store.confirmCommit(c.campaignId, owner.instance, owner.seq))) return 'duplicate'
    } catch {
      this.#storeError('commit')
      return 'store_error'
    }
    this.counters.committedMicros += priceMicros
    await this.#countFrequency(c, isOwn, nowMs)
    return 'counted'
  }

  /**
   * Records a notice that commits no reservation (win, loss, DSP billing) once, fleet-wide:
   * 'counted' for the one attempt that should forward it, 'duplicate' for the others, including a
   * retry whose first attempt was confirmed. Throws when the store fails (the caller answers 503).
   */
  async countNotice(key: string, ttlMs: number): Promise<NoticeOutcome> {
    try {
      const mark: NoticeMark = await this.#deps.store.markNotice(key, ttlMs)
      if (mark === 'duplicate') return 'duplicate'
      return (await this.#deps.store.confirmNotice(key)) ? 'counted' : 'duplicate'
    } catch (err) {
      this.#storeError('notice')
      throw err
    }
  }

  async #countFrequency(c: NoticeClaims, isOwn: boolean, nowMs: number): Promise<void> {
    const lease = this.#campaigns.get(c.campaignId)
    if (c.userId === '' || lease === undefined || lease.caps.length === 0) return
    // The owner moved its pending count to "recent" in #applyCommit; anyone else records it here.
    if (!isOwn) this.frequency.addRecent(LocalFrequency.key(c.campaignId, c.userId), nowMs)
    const windows = capWindows(lease.caps, nowMs, lease.campaign.endMs)
    try {
      await this.#deps.store.incrementFrequency(c.userId, c.campaignId, windows, nowMs)
    } catch {
      this.#storeError('frequency')
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle.

  /** Loads campaigns and takes part in the fleet (one tick), then ticks in the background. */
  async start(): Promise<void> {
    await this.tick()
    this.#timer = setInterval(() => void this.tick(), this.#s.refillIntervalMs)
    this.#timer.unref()
  }

  /**
   * Stops the loop and gives unspent leases back (reserved money stays until billed or reaped),
   * after every LEASE call in flight has landed, so no grant arrives after its return.
   */
  async stop(): Promise<void> {
    this.#isStopped = true
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    if (this.#ticking !== null) await this.#ticking
    await Promise.all(this.#onDemand)
    const returns: Promise<void>[] = []
    for (const lease of this.#campaigns.values()) returns.push(this.#returnAvailable(lease))
    await Promise.all(returns)
    this.#flushMetrics()
  }

  /** One background round; never overlaps itself. Exposed for tests. */
  tick(): Promise<void> {
    if (this.#ticking !== null) return this.#ticking
    const run = this.#tickOnce().finally(() => {
      this.#ticking = null
    })
    this.#ticking = run
    return run
  }

  /** Re-reads campaign definitions now (after an admin write on this instance). */
  async refreshCampaigns(): Promise<void> {
    this.#campaignVersion = -1
    await this.#syncCampaigns(this.#now())
  }

  async #tickOnce(): Promise<void> {
    const nowMs = this.#now()
    await this.#beat(nowMs)
    if (this.#deps.store.isAvailable()) await this.#syncCampaigns(nowMs)
    for (const lease of this.#campaigns.values()) lease.updateRate(nowMs)
    if (this.#isKnown && this.canSpend(nowMs)) await this.#refill(nowMs, false)
    if (nowMs >= this.#nextPaceAtMs) this.#repace(nowMs)
    await this.#sweep(nowMs)
    if (nowMs >= this.#nextReapAtMs) await this.#reap(nowMs)
    this.frequency.sweep(nowMs)
    this.#flushMetrics()
  }

  async #beat(nowMs: number): Promise<void> {
    const liveWindowMs = Math.max(5_000, 3 * this.#s.refillIntervalMs)
    try {
      const hb = await this.#deps.store.heartbeat(this.#id, nowMs, liveWindowMs)
      // Known before and now unknown: the reaper took our leases while we were silent.
      if (hb.wasUnknown && this.#isKnown) this.#lapse('reaped')
      this.#isKnown = true
      this.#lastBeatOkMs = nowMs
      this.#leaseValidUntilMs = nowMs + this.#s.leaseTtlMs
      this.#liveInstances = Math.max(1, hb.liveInstances)
    } catch {
      this.#storeError('heartbeat')
      if (this.#isKnown && nowMs > this.#lastBeatOkMs + this.#s.leaseTtlMs) this.#lapse('silent')
    }
  }

  /**
   * Gives up every lease held under the current id: after a silence past the lease TTL the reaper
   * may return them to the budget, so spending them could spend twice. Reservations already made
   * keep their money until they settle; new leases are taken under a new id.
   */
  #lapse(why: 'silent' | 'reaped'): void {
    this.#deps.log.warn({ instance: this.#id, why }, 'pacing: leases lapsed; taking new ones under a new id')
    for (const lease of this.#campaigns.values()) {
      lease.leaseMicros = lease.reservedMicros
      lease.leaseImps = lease.reservedImps
      lease.mode = 'lease'
    }
    this.#id = `${this.#baseId}~${++this.#generation}`
    this.#generations.add(this.#id)
    this.#isKnown = false
    this.#leaseValidUntilMs = 0
  }

  async #syncCampaigns(nowMs: number): Promise<void> {
    try {
      const version = await this.#deps.store.campaignVersion()
      if (version === this.#campaignVersion && nowMs < this.#nextResyncAtMs) return
      const campaigns = await this.#deps.store.loadCampaigns()
      this.#campaignVersion = version
      this.#nextResyncAtMs = nowMs + this.#s.resyncIntervalMs
      const seen = new Set<string>()
      for (const c of campaigns) {
        seen.add(c.id)
        const lease = this.#campaigns.get(c.id)
        if (lease === undefined) this.#campaigns.set(c.id, new CampaignLease(c))
        else lease.update(c)
      }
      // A campaign deleted by hand stops serving; its lease object stays for its reservations.
      for (const lease of this.#campaigns.values()) {
        if (!seen.has(lease.id) && lease.campaign.status !== 'paused') {
          lease.update({ ...lease.campaign, status: 'paused' })
        }
      }
      this.#isLoaded = true
    } catch {
      this.#storeError('sync')
    }
  }

  async #refill(nowMs: number, isOnDemand: boolean): Promise<void> {
    const calls: Promise<void>[] = []
    for (const lease of this.#campaigns.values()) {
      if (!lease.isBudgeted || lease.isRefilling) continue
      if (!isLive(lease.campaign, nowMs) || nowMs - lease.lastDemandAtMs > this.#s.idleReturnMs) {
        if (!isOnDemand && lease.availableMicros + lease.availableImps > 0)
          calls.push(this.#returnAvailable(lease))
        continue
      }
      if (isOnDemand && (!lease.needsRefill || lease.mode === 'exhausted')) continue
      const want = leaseWant(lease, this.#s)
      const isReportDue = nowMs >= lease.nextReportAtMs && lease.unitMicros > 0
      if (want.micros === 0 && want.imps === 0 && !isReportDue) continue
      lease.isRefilling = true
      calls.push(
        this.#leaseOne(lease, want.micros, want.imps, nowMs).finally(() => {
          lease.isRefilling = false
        }),
      )
    }
    await Promise.all(calls)
  }

  async #leaseOne(lease: CampaignLease, wantMicros: number, wantImps: number, nowMs: number): Promise<void> {
    const instance = this.#id
    let reply: LeaseReply
    try {
      reply = await this.#deps.store.lease({
        instance,
        campaignId: lease.id,
        nowMs,
        wantMicros,
        wantImps,
        unitMicros: lease.unitMicros,
        heldMicros: Math.max(0, lease.availableMicros),
        heldImps: Math.max(0, lease.availableImps),
        liveInstances: this.#liveInstances,
        leaseFractionPpm: Math.round(this.#s.leaseFraction * 1_000_000),
        lastMileUnits: this.#s.lastMileImpressions,
        maxInbox: MAX_INBOX,
      })
    } catch {
      this.counters.leaseRequests.error++
      this.#storeError('lease')
      return
    }
    // A lapse while the call was out: the grant went to the old id, which the reaper will return.
    if (instance !== this.#id) return
    this.#applyLease(lease, reply, wantMicros + wantImps > 0, nowMs)
    // Nothing left to grant and too little here to buy one impression: what this instance holds is a
    // fragment only another instance can complete (the store grants a remainder to an instance it
    // completes one impression for), so it goes back rather than sit here while there is demand.
    if (reply.isExhausted && !canBuyOne(lease)) await this.#returnAvailable(lease)
  }

  #applyLease(lease: CampaignLease, reply: LeaseReply, wasAsked: boolean, nowMs: number): void {
    lease.leaseMicros += reply.grantMicros
    lease.leaseImps += reply.grantImps
    lease.mode = reply.isExhausted ? 'exhausted' : reply.isLastMile ? 'last_mile' : 'lease'
    lease.delivery = reply.ledger
    lease.remainingMicros = reply.ledger.remainingMicros
    lease.remainingImps = reply.ledger.remainingImps
    lease.nextReportAtMs = nowMs + this.#s.paceIntervalMs
    lease.needsRefill = false
    this.counters.grantedMicros += reply.grantMicros
    if (wasAsked) {
      const got = reply.grantMicros + reply.grantImps
      if (got === 0) this.counters.leaseRequests.empty++
      else if (reply.grantMicros > 0 && reply.grantImps > 0) this.counters.leaseRequests.granted++
      else this.counters.leaseRequests.partial++
    }
    for (const entry of reply.inbox) this.#applyCommit(entry.seq, entry.priceMicros, nowMs)
  }

  async #returnAvailable(lease: CampaignLease): Promise<void> {
    const micros = Math.max(0, lease.availableMicros)
    const imps = Math.max(0, lease.availableImps)
    if (micros === 0 && imps === 0) return
    // Taken off first: an auction running meanwhile must not reserve what is on its way back.
    lease.leaseMicros -= micros
    lease.leaseImps -= imps
    try {
      const back = await this.#deps.store.returnLease(this.#id, lease.id, micros, imps, this.#now())
      this.counters.returnedMicros += back.micros
    } catch {
      this.#storeError('return')
    }
  }

  #repace(nowMs: number): void {
    this.#nextPaceAtMs = nowMs + this.#s.paceIntervalMs
    for (const lease of this.#campaigns.values()) {
      if (lease.delivery === null) continue
      lease.pacer = nextPacerState(lease.campaign, lease.delivery, lease.pacer, nowMs, this.#s.paceIntervalMs)
    }
  }

  /** Settles reservations whose billing did not come in time; fail-closed while the store is away. */
  async #sweep(nowMs: number): Promise<void> {
    for (const r of this.#table.expiredBefore(nowMs - this.#s.commitGraceMs)) this.#unresolved.push(r)
    if (this.#unresolved.length === 0) return
    const groups = new Map<string, Reservation[]>()
    for (const r of this.#unresolved) {
      if (this.#table.get(r.seq) !== r) continue // billed meanwhile
      const key = `${r.instance}\n${r.lease.id}`
      const group = groups.get(key)
      if (group === undefined) groups.set(key, [r])
      else group.push(r)
    }
    this.#unresolved.length = 0
    for (const group of groups.values()) await this.#resolve(group, nowMs)
  }

  async #resolve(group: Reservation[], nowMs: number): Promise<void> {
    const first = group[0]!
    try {
      const resolutions = await this.#deps.store.resolveExpired({
        instance: first.instance,
        campaignId: first.lease.id,
        seqs: group.map((r) => r.seq),
        nowMs,
        markerTtlMs: this.#s.commitGraceMs + MARKER_RETENTION_MS,
      })
      for (const res of resolutions) {
        if (res.committedMicros !== null) this.#applyCommit(res.seq, res.committedMicros, nowMs)
        else {
          const r = this.#table.take(res.seq)
          if (r === undefined) continue
          this.#settleUnbilled(r)
          this.counters.reservations.expired++
        }
      }
    } catch {
      this.#storeError('resolve')
      for (const r of group) this.#unresolved.push(r)
    }
  }

  async #reap(nowMs: number): Promise<void> {
    this.#nextReapAtMs = nowMs + this.#s.reapIntervalMs
    if (!this.#isKnown) return
    const s = this.#s
    const deadAfterMs = s.leaseTtlMs + s.reservationTtlMs + s.commitGraceMs + s.reapMarginMs
    try {
      const reaped = await this.#deps.store.reap(this.#id, nowMs, deadAfterMs, s.reapIntervalMs * 2)
      if (reaped.instances > 0) {
        this.counters.reapedMicros += reaped.micros
        this.#deps.log.info({ ...reaped }, 'pacing: reaped the leases of silent instances')
      }
    } catch {
      this.#storeError('reap')
    }
  }

  /** A billing counted for one of our reservations (here, via the inbox, or found on expiry). */
  #applyCommit(seq: number, priceMicros: number, nowMs: number): void {
    const r = this.#table.take(seq)
    if (r === undefined) return
    if (r.instance === this.#id) r.lease.commit(r.costMicros, priceMicros, r.isLeased)
    else r.lease.forfeit(r.costMicros, r.isLeased)
    if (r.capKey !== null) {
      this.frequency.removePending(r.capKey)
      this.frequency.addRecent(r.capKey, nowMs)
    }
    this.counters.reservations.committed++
  }

  #settleUnbilled(r: Reservation): void {
    if (r.instance === this.#id) r.lease.release(r.costMicros, r.isLeased)
    else r.lease.forfeit(r.costMicros, r.isLeased)
    if (r.capKey !== null) this.frequency.removePending(r.capKey)
  }

  #storeError(op: PacingStoreOp): void {
    this.counters.storeErrors[op]++
  }

  #flushMetrics(): void {
    this.counters.flush(this.#deps.metrics, this.#campaigns.values(), this.#now())
  }

  // ---------------------------------------------------------------------------------------------
  // Reporting.

  /** The campaign, its fleet-wide ledger (null when the store cannot be read) and this instance's view. */
  async status(id: string): Promise<CampaignStatusView | null> {
    const nowMs = this.#now()
    let campaign: Campaign | null
    try {
      campaign = await this.#deps.store.getCampaign(id)
    } catch (err) {
      const lease = this.#campaigns.get(id)
      if (lease === undefined) throw err
      campaign = lease.campaign
    }
    if (campaign === null) return null
    let ledger: CampaignStatusView['ledger'] = null
    try {
      ledger = await this.#deps.store.ledger(id, nowMs)
    } catch {
      this.#storeError('sync')
    }
    const lease = this.#campaigns.get(id)
    const local =
      lease === undefined
        ? null
        : {
            instance: this.#id,
            mode: lease.mode,
            participationRate: lease.pacer.rate,
            isLive: isLive(lease.campaign, nowMs),
            leaseMicros: lease.leaseMicros,
            reservedMicros: lease.reservedMicros,
            leaseImps: lease.leaseImps,
            reservedImps: lease.reservedImps,
            spendMicrosPerSec: Math.round(lease.microsPerSec),
            canSpend: this.canSpend(nowMs),
          }
    return { campaign, ledger, local }
  }
}

/** The lease in hand pays for one more impression at the dearest price seen. */
function canBuyOne(lease: CampaignLease): boolean {
  return lease.availableMicros >= lease.unitMicros && lease.availableImps >= 1
}
