import type { Campaign } from '../pacing/campaign.js'
import { decodeCounters } from '../pacing/frequency.js'
import {
  type Amounts,
  type CommitOutcome,
  DAY_MS,
  type LeaseReply,
  type LeaseRequest,
  type Ledger,
  type PacingStore,
  type Resolution,
} from './pacing-store.js'

/** A campaign's central accounts, as the Dragonfly ledger hash holds them. */
interface LedgerState {
  spent: number
  imps: number
  daySpent: number
  dayImps: number
  day: number
  leased: number
  leasedImps: number
}

/**
 * The data behind in-memory pacing stores. One per process normally; tests hand one to several
 * stores to play instances sharing a Dragonfly. `frequency` is shared with the memory ExchangeStore,
 * which reads it in fetchDecoration as Dragonfly's decoration script reads `ad:fc:{u:ID}`.
 */
export interface MemoryPacingData {
  readonly campaigns: Map<string, Campaign>
  readonly ledgers: Map<string, LedgerState>
  /** campaign → instance → lease */
  readonly leases: Map<string, Map<string, { m: number; i: number }>>
  /** `<campaign>\n<instance>` → `<seq>:<price>` */
  readonly inboxes: Map<string, string[]>
  /** De-duplication markers with their expiry. */
  readonly markers: Map<string, { value: string; untilMs: number }>
  /** user → field → `<count>:<expiresAtMs>` (the `ad:fc:{u:ID}` hash). */
  readonly frequency: Map<string, Map<string, string>>
  /** instance → last heartbeat */
  readonly instances: Map<string, number>
  reaperLock: { owner: string; untilMs: number } | null
  version: number
}

export function createMemoryPacingData(frequency = new Map<string, Map<string, string>>()): MemoryPacingData {
  return {
    campaigns: new Map(),
    ledgers: new Map(),
    leases: new Map(),
    inboxes: new Map(),
    markers: new Map(),
    frequency,
    instances: new Map(),
    reaperLock: null,
    version: 0,
  }
}

/** The limits a grant is checked against, in the ledger's units. */
export interface Limits {
  readonly dailyMicros: number | null
  readonly lifetimeMicros: number | null
  readonly goalImps: number | null
}

export interface Grant {
  readonly grantMicros: number
  readonly grantImps: number
  readonly isLastMile: boolean
  readonly isExhausted: boolean
}

/**
 * The LEASE rule, shared with the Dragonfly script (which implements the same lines in Lua):
 * remaining = min(daily − daySpent − leased, lifetime − spent − leased), goal − imps − leasedImps.
 * Exhausted when what remains plus what the requester holds unreserved (at most its lease on
 * record, `own`) is below one impression: a remainder smaller than one impression is still granted
 * to an instance it completes one for, or the last impression of a budget or goal would never serve.
 * Last mile below `live × lastMileUnits` impressions (one impression per grant); otherwise a grant
 * takes at most `leaseFraction` of what remains (at least one impression), so leases shrink as the
 * budget runs out. A grant never exceeds what remains.
 */
export function computeGrant(
  limits: Limits,
  l: LedgerState,
  r: LeaseRequest,
  own: { readonly m: number; readonly i: number } | undefined,
): Grant & RemainingPair {
  const remM = remainingMicros(limits, l)
  const remI = limits.goalImps === null ? null : Math.max(0, limits.goalImps - l.imps - l.leasedImps)
  const unit = Math.max(1, r.unitMicros)
  const n = Math.max(1, r.liveInstances)
  const heldM = Math.max(0, Math.min(r.heldMicros, own?.m ?? 0))
  const heldI = Math.max(0, Math.min(r.heldImps, own?.i ?? 0))
  const isExhausted = (remM !== null && remM + heldM < unit) || (remI !== null && remI + heldI < 1)
  const isLastMile =
    !isExhausted &&
    ((remM !== null && remM < n * r.lastMileUnits * unit) || (remI !== null && remI < n * r.lastMileUnits))
  let grantMicros = 0
  let grantImps = 0
  if (!isExhausted) {
    grantMicros = capGrant(r.wantMicros, remM, unit, r.leaseFractionPpm, isLastMile)
    grantImps = capGrant(r.wantImps, remI, 1, r.leaseFractionPpm, isLastMile)
  }
  return { grantMicros, grantImps, isLastMile, isExhausted, remM, remI }
}

interface RemainingPair {
  readonly remM: number | null
  readonly remI: number | null
}

function capGrant(want: number, rem: number | null, unit: number, ppm: number, isLastMile: boolean): number {
  if (want <= 0) return 0
  if (rem === null) return want
  let cap = Math.max(unit, Math.floor((rem / 1_000_000) * ppm))
  if (isLastMile) cap = unit
  return Math.min(want, cap, rem)
}

function remainingMicros(limits: Limits, l: LedgerState): number | null {
  let rem: number | null = null
  if (limits.dailyMicros !== null) rem = limits.dailyMicros - l.daySpent - l.leased
  if (limits.lifetimeMicros !== null) {
    const life = limits.lifetimeMicros - l.spent - l.leased
    if (rem === null || life < rem) rem = life
  }
  return rem === null ? null : Math.max(0, rem)
}

export function limitsOf(c: Campaign | undefined): Limits {
  return {
    dailyMicros: c?.dailyBudgetMicros ?? null,
    lifetimeMicros: c?.lifetimeBudgetMicros ?? null,
    goalImps: c?.impressionGoal ?? null,
  }
}

/**
 * The embedded pacing store: the same semantics as the Dragonfly one (the contract suite runs both),
 * for a single instance without DRAGONFLY_URL and for tests.
 */
export function createMemoryPacingStore(options: { data?: MemoryPacingData } = {}): PacingStore {
  const data = options.data ?? createMemoryPacingData()
  let isClosed = false

  function ledgerOf(id: string, nowMs: number): LedgerState {
    const day = Math.floor(nowMs / DAY_MS)
    let l = data.ledgers.get(id)
    if (l === undefined) {
      l = { spent: 0, imps: 0, daySpent: 0, dayImps: 0, day, leased: 0, leasedImps: 0 }
      data.ledgers.set(id, l)
    } else if (day > l.day) {
      // Midnight UTC: today's counters restart; leases granted yesterday count against today.
      l.day = day
      l.daySpent = 0
      l.dayImps = 0
    }
    return l
  }

  function leasesOf(id: string): Map<string, { m: number; i: number }> {
    let m = data.leases.get(id)
    if (m === undefined) data.leases.set(id, (m = new Map()))
    return m
  }

  /** SET NX with expiry: true when the marker was set now. */
  function setMarker(key: string, value: string, untilMs: number, nowMs: number): boolean {
    const existing = data.markers.get(key)
    if (existing !== undefined && existing.untilMs > nowMs) return false
    data.markers.set(key, { value, untilMs })
    if (data.markers.size % 4096 === 0) forgetExpiredMarkers(nowMs)
    return true
  }

  /** The marker's value while it lives (GET). */
  function liveMarker(key: string, nowMs: number): string | undefined {
    const m = data.markers.get(key)
    return m !== undefined && m.untilMs > nowMs ? m.value : undefined
  }

  function forgetExpiredMarkers(nowMs: number): void {
    for (const [key, m] of data.markers) if (m.untilMs <= nowMs) data.markers.delete(key)
  }

  function ledgerView(l: LedgerState, c: Campaign | undefined): Ledger {
    const limits = limitsOf(c)
    const remM = remainingMicros(limits, l)
    const remI = limits.goalImps === null ? null : Math.max(0, limits.goalImps - l.imps - l.leasedImps)
    return {
      spentMicros: l.spent,
      imps: l.imps,
      daySpentMicros: l.daySpent,
      dayImps: l.dayImps,
      leasedMicros: l.leased,
      leasedImps: l.leasedImps,
      remainingMicros: remM ?? -1,
      remainingImps: remI ?? -1,
    }
  }

  const guard = () => {
    if (isClosed) throw new Error('the pacing store is closed')
  }

  return {
    kind: 'memory',
    connect: async () => true,
    isAvailable: () => !isClosed,
    async close() {
      isClosed = true
    },

    async putCampaign(campaign) {
      guard()
      data.campaigns.set(campaign.id, campaign)
      data.version++
    },
    async getCampaign(id) {
      guard()
      return data.campaigns.get(id) ?? null
    },
    async loadCampaigns() {
      guard()
      return [...data.campaigns.values()]
    },
    async campaignVersion() {
      guard()
      return data.version
    },

    async heartbeat(instance, nowMs, liveWindowMs) {
      guard()
      const wasUnknown = !data.instances.has(instance)
      data.instances.set(instance, nowMs)
      let live = 0
      for (const at of data.instances.values()) if (at >= nowMs - liveWindowMs) live++
      return { liveInstances: live, wasUnknown }
    },

    async lease(r): Promise<LeaseReply> {
      guard()
      const l = ledgerOf(r.campaignId, r.nowMs)
      const leases = leasesOf(r.campaignId)
      const own = leases.get(r.instance) ?? { m: 0, i: 0 }
      const g = computeGrant(limitsOf(data.campaigns.get(r.campaignId)), l, r, own)
      l.leased += g.grantMicros
      l.leasedImps += g.grantImps
      own.m += g.grantMicros
      own.i += g.grantImps
      if (own.m !== 0 || own.i !== 0) leases.set(r.instance, own)
      const inboxKey = `${r.campaignId}\n${r.instance}`
      const queued = data.inboxes.get(inboxKey) ?? []
      const taken = queued.splice(0, r.maxInbox)
      if (queued.length === 0) data.inboxes.delete(inboxKey)
      return {
        grantMicros: g.grantMicros,
        grantImps: g.grantImps,
        isLastMile: g.isLastMile,
        isExhausted: g.isExhausted,
        ledger: ledgerView(l, data.campaigns.get(r.campaignId)),
        inbox: taken.map(parseInboxEntry),
      }
    },

    async returnLease(instance, campaignId, micros, imps, nowMs): Promise<Amounts> {
      guard()
      const own = leasesOf(campaignId).get(instance)
      if (own === undefined) return { micros: 0, imps: 0 }
      const m = Math.min(micros, Math.max(0, own.m))
      const i = Math.min(imps, Math.max(0, own.i))
      own.m -= m
      own.i -= i
      if (own.m === 0 && own.i === 0) leasesOf(campaignId).delete(instance)
      const l = ledgerOf(campaignId, nowMs)
      l.leased -= m
      l.leasedImps -= i
      return { micros: m, imps: i }
    },

    async commit(r): Promise<CommitOutcome> {
      guard()
      const key = reservationKey(r.campaignId, r.owner, r.seq)
      const marker = liveMarker(key, r.nowMs)
      if (marker !== undefined) {
        if (marker === 'x') return 'expired'
        return liveMarker(unconfirmedKey(key), r.nowMs) === undefined ? 'duplicate' : 'unconfirmed'
      }
      if (r.nowMs > r.expiresAtMs + r.graceMs) return 'expired'
      setMarker(key, `c:${r.priceMicros}`, r.markerUntilMs, r.nowMs)
      setMarker(unconfirmedKey(key), '1', r.markerUntilMs, r.nowMs)
      const l = ledgerOf(r.campaignId, r.nowMs)
      l.spent += r.priceMicros
      l.imps += 1
      l.daySpent += r.priceMicros
      l.dayImps += 1
      if (r.isLeased) {
        const own = leasesOf(r.campaignId).get(r.owner)
        // Clamped: a lease already reaped is never returned twice.
        const m = Math.min(r.priceMicros, Math.max(0, own?.m ?? 0))
        const i = Math.min(1, Math.max(0, own?.i ?? 0))
        if (own !== undefined) {
          own.m -= m
          own.i -= i
        }
        l.leased -= m
        l.leasedImps -= i
      }
      if (r.owner !== r.handler) {
        const inboxKey = `${r.campaignId}\n${r.owner}`
        const queued = data.inboxes.get(inboxKey)
        if (queued === undefined) data.inboxes.set(inboxKey, [`${r.seq}:${r.priceMicros}`])
        else queued.push(`${r.seq}:${r.priceMicros}`)
      }
      return 'counted'
    },

    async confirmCommit(campaignId, owner, seq) {
      guard()
      return data.markers.delete(unconfirmedKey(reservationKey(campaignId, owner, seq)))
    },

    async resolveExpired(r): Promise<Resolution[]> {
      guard()
      const nowMs = r.nowMs
      return r.seqs.map((seq) => {
        const key = reservationKey(r.campaignId, r.instance, seq)
        if (setMarker(key, 'x', nowMs + r.markerTtlMs, nowMs)) return { seq, committedMicros: null }
        return { seq, committedMicros: markerPrice(data.markers.get(key)?.value) }
      })
    },

    async reap(self, nowMs, deadAfterMs, lockMs) {
      guard()
      const lock = data.reaperLock
      if (lock !== null && lock.untilMs > nowMs && lock.owner !== self)
        return { instances: 0, micros: 0, imps: 0 }
      data.reaperLock = { owner: self, untilMs: nowMs + lockMs }
      let instances = 0
      let micros = 0
      let imps = 0
      for (const [instance, at] of data.instances) {
        if (at >= nowMs - deadAfterMs) continue
        instances++
        for (const [campaignId, leases] of data.leases) {
          const own = leases.get(instance)
          data.inboxes.delete(`${campaignId}\n${instance}`)
          if (own === undefined) continue
          leases.delete(instance)
          const l = ledgerOf(campaignId, nowMs)
          l.leased -= own.m
          l.leasedImps -= own.i
          micros += own.m
          imps += own.i
        }
        data.instances.delete(instance)
      }
      return { instances, micros, imps }
    },

    async ledger(campaignId, nowMs) {
      guard()
      const l = ledgerOf(campaignId, nowMs)
      const leases: Record<string, Amounts> = {}
      for (const [instance, own] of leasesOf(campaignId)) leases[instance] = { micros: own.m, imps: own.i }
      return { ...ledgerView(l, data.campaigns.get(campaignId)), leases }
    },

    async markNotice(key, ttlMs) {
      guard()
      const nowMs = Date.now()
      if (setMarker(`notice\n${key}`, 'p', nowMs + ttlMs, nowMs)) return 'counted'
      return liveMarker(`notice\n${key}`, nowMs) === 'p' ? 'unconfirmed' : 'duplicate'
    },

    async confirmNotice(key) {
      guard()
      const m = data.markers.get(`notice\n${key}`)
      if (m === undefined || m.value !== 'p' || m.untilMs <= Date.now()) return false
      m.value = '1'
      return true
    },

    async incrementFrequency(userId, campaignId, windows, nowMs) {
      guard()
      let hash = data.frequency.get(userId)
      if (hash === undefined) data.frequency.set(userId, (hash = new Map()))
      for (const w of windows) {
        const field = `${w.letter}/${campaignId}`
        const [count, until] = (hash.get(field) ?? '0:0').split(':').map(Number) as [number, number]
        hash.set(field, until > nowMs ? `${count + 1}:${until}` : `1:${nowMs + w.ms}`)
      }
      for (const [field, value] of hash) if (Number(value.split(':')[1]) <= nowMs) hash.delete(field)
    },

    async readFrequency(userId, nowMs) {
      guard()
      return decodeCounters(data.frequency.get(userId) ?? [], nowMs)
    },
  }
}

function reservationKey(campaignId: string, owner: string, seq: number): string {
  return `${campaignId}\n${owner}.${seq}`
}

/** Beside a reservation's marker until one handler confirms its billing (PacingKeys.unconfirmed). */
function unconfirmedKey(reservationKey: string): string {
  return `${reservationKey}\nu`
}

export function parseInboxEntry(entry: string): { seq: number; priceMicros: number } {
  const colon = entry.indexOf(':')
  return { seq: Number(entry.slice(0, colon)), priceMicros: Number(entry.slice(colon + 1)) }
}

/** `c:<price>` → price; anything else (`x`, or the marker gone) → null. */
export function markerPrice(value: string | undefined | null): number | null {
  return typeof value === 'string' && value.startsWith('c:') ? Number(value.slice(2)) : null
}
