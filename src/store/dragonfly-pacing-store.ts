import { Redis } from 'ioredis'
import { type Campaign, campaignToFields, fieldsToCampaign } from '../pacing/campaign.js'
import { decodeCounters } from '../pacing/frequency.js'
import { reconnectDelayMs } from './dragonfly-store.js'
import {
  createMemoryPacingData,
  createMemoryPacingStore,
  markerPrice,
  parseInboxEntry,
} from './memory-pacing-store.js'
import { memoryFrequencyOf } from './memory-store.js'
import {
  type Amounts,
  type CommitOutcome,
  type LeaseReply,
  type Ledger,
  type NoticeMark,
  PacingKeys,
  type PacingStore,
  type ReapResult,
  type Resolution,
} from './pacing-store.js'
import type { ExchangeStore, StoreLog } from './store.js'

/*
 * The scripts. Each declares every key it touches in KEYS (Dragonfly refuses undeclared keys), all
 * under one hash tag. They run on Lua 5.1 (Redis 7) and 5.4 (Dragonfly) alike: numbers go back to the
 * server as strings made by S() (so 1e15 never becomes "1e+15" and 5.4 never writes "5.0"), divisions
 * are floored, and times come from the caller (ARGV), not from TIME.
 */
const PRELUDE = `
local function S(x) return string.format('%d', x) end
local function N(v) if v == false or v == nil or v == '' then return nil end return tonumber(v) end
`

/**
 * LEASE: KEYS campaign, ledger, leases, inbox; ARGV instance, nowMs, wantMicros, wantImps,
 * unitMicros, liveInstances, leaseFractionPpm, lastMileUnits, maxInbox, heldMicros, heldImps. Same
 * rule as computeGrant in memory-pacing-store.ts.
 */
export const LEASE_LUA = `${PRELUDE}
local now = tonumber(ARGV[2])
local day = math.floor(now / 86400000)
local c = redis.call('HMGET', KEYS[1], 'dailyBudgetMicros', 'lifetimeBudgetMicros', 'impressionGoal')
local l = redis.call('HMGET', KEYS[2], 'spent', 'imps', 'daySpent', 'dayImps', 'day', 'leased', 'leasedImps')
local spent, imps = N(l[1]) or 0, N(l[2]) or 0
local daySpent, dayImps = N(l[3]) or 0, N(l[4]) or 0
local lday = N(l[5])
local leased, leasedImps = N(l[6]) or 0, N(l[7]) or 0
if lday == nil or day > lday then
  if lday ~= nil then daySpent = 0 dayImps = 0 end
  redis.call('HSET', KEYS[2], 'day', S(day), 'daySpent', S(daySpent), 'dayImps', S(dayImps))
end
local daily, life, goal = N(c[1]), N(c[2]), N(c[3])
local remM = nil
if daily ~= nil then remM = daily - daySpent - leased end
if life ~= nil then
  local r = life - spent - leased
  if remM == nil or r < remM then remM = r end
end
if remM ~= nil and remM < 0 then remM = 0 end
local remI = nil
if goal ~= nil then remI = math.max(0, goal - imps - leasedImps) end
local unit = math.max(1, tonumber(ARGV[5]))
local n = math.max(1, tonumber(ARGV[6]))
local ppm = tonumber(ARGV[7])
local lastUnits = tonumber(ARGV[8])
local own = redis.call('HMGET', KEYS[3], ARGV[1] .. ':m', ARGV[1] .. ':i')
local heldM = math.max(0, math.min(tonumber(ARGV[10]) or 0, N(own[1]) or 0))
local heldI = math.max(0, math.min(tonumber(ARGV[11]) or 0, N(own[2]) or 0))
local exhausted = (remM ~= nil and remM + heldM < unit) or (remI ~= nil and remI + heldI < 1)
local lastMile = (not exhausted) and ((remM ~= nil and remM < n * lastUnits * unit) or (remI ~= nil and remI < n * lastUnits))
local function cap(want, rem, u)
  if want <= 0 then return 0 end
  if rem == nil then return want end
  local most = math.max(u, math.floor(rem / 1000000 * ppm))
  if lastMile then most = u end
  return math.min(want, most, rem)
end
local gM, gI = 0, 0
if not exhausted then
  gM = cap(tonumber(ARGV[3]), remM, unit)
  gI = cap(tonumber(ARGV[4]), remI, 1)
end
if gM > 0 or gI > 0 then
  leased = leased + gM
  leasedImps = leasedImps + gI
  redis.call('HSET', KEYS[2], 'leased', S(leased), 'leasedImps', S(leasedImps))
  redis.call('HINCRBY', KEYS[3], ARGV[1] .. ':m', S(gM))
  redis.call('HINCRBY', KEYS[3], ARGV[1] .. ':i', S(gI))
  if remM ~= nil then remM = remM - gM end
  if remI ~= nil then remI = remI - gI end
end
local inbox = redis.call('LRANGE', KEYS[4], 0, S(tonumber(ARGV[9]) - 1))
if #inbox > 0 then redis.call('LTRIM', KEYS[4], S(#inbox), -1) end
local flags = 0
if lastMile then flags = flags + 1 end
if exhausted then flags = flags + 2 end
return {S(gM), S(gI), flags, S(spent), S(imps), S(daySpent), S(dayImps), S(leased), S(leasedImps),
  remM == nil and '-1' or S(remM), remI == nil and '-1' or S(remI), inbox}
`

/**
 * COMMIT: KEYS ledger, leases, reservation marker, owner's inbox, unconfirmed flag; ARGV owner, seq,
 * priceMicros, expiresAtMs, nowMs, graceMs, markerTtlMs, isLeased, pushInbox. The marker is the
 * exactly-once decision: a retry or duplicate finds it (and the flag while nobody confirmed the
 * billing), an expiry that got there first left 'x'. The marker is read before the deadline, so a
 * retry of a billing that did count is recognised even at the edge of its grace.
 */
export const COMMIT_LUA = `${PRELUDE}
local now = tonumber(ARGV[5])
local marker = redis.call('GET', KEYS[3])
if marker then
  if marker == 'x' then return 'expired' end
  if redis.call('EXISTS', KEYS[5]) == 1 then return 'unconfirmed' end
  return 'duplicate'
end
if now > tonumber(ARGV[4]) + tonumber(ARGV[6]) then return 'expired' end
redis.call('SET', KEYS[3], 'c:' .. ARGV[3], 'PX', ARGV[7])
redis.call('SET', KEYS[5], '1', 'PX', ARGV[7])
local day = math.floor(now / 86400000)
local lday = N(redis.call('HGET', KEYS[1], 'day'))
if lday == nil or day > lday then redis.call('HSET', KEYS[1], 'day', S(day), 'daySpent', '0', 'dayImps', '0') end
redis.call('HINCRBY', KEYS[1], 'spent', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'imps', '1')
redis.call('HINCRBY', KEYS[1], 'daySpent', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'dayImps', '1')
if ARGV[8] == '1' then
  local m = N(redis.call('HGET', KEYS[2], ARGV[1] .. ':m')) or 0
  local i = N(redis.call('HGET', KEYS[2], ARGV[1] .. ':i')) or 0
  local dm = math.min(tonumber(ARGV[3]), math.max(0, m))
  local di = math.min(1, math.max(0, i))
  if dm > 0 then
    redis.call('HINCRBY', KEYS[2], ARGV[1] .. ':m', S(-dm))
    redis.call('HINCRBY', KEYS[1], 'leased', S(-dm))
  end
  if di > 0 then
    redis.call('HINCRBY', KEYS[2], ARGV[1] .. ':i', '-1')
    redis.call('HINCRBY', KEYS[1], 'leasedImps', '-1')
  end
end
if ARGV[9] == '1' then
  redis.call('RPUSH', KEYS[4], ARGV[2] .. ':' .. ARGV[3])
  redis.call('PEXPIRE', KEYS[4], ARGV[7])
end
return 'counted'
`

/** RESOLVE: KEYS the expired reservations' markers; ARGV markerTtlMs. 'x' = released, else the marker. */
export const RESOLVE_LUA = `
local out = {}
for i = 1, #KEYS do
  if redis.call('SET', KEYS[i], 'x', 'NX', 'PX', ARGV[1]) then out[i] = 'x'
  else out[i] = redis.call('GET', KEYS[i]) or 'x' end
end
return out
`

/**
 * NOTICE: KEYS the notice's key; ARGV ttlMs. 'p' = recorded, not yet confirmed; '1' = confirmed
 * (also what earlier versions wrote, which never confirmed).
 */
export const NOTICE_LUA = `
if redis.call('SET', KEYS[1], 'p', 'NX', 'PX', ARGV[1]) then return 'counted' end
if redis.call('GET', KEYS[1]) == 'p' then return 'unconfirmed' end
return 'duplicate'
`

/** CONFIRM_NOTICE: KEYS the notice's key → 1 for the one caller that turns 'p' into '1', keeping its TTL. */
export const CONFIRM_NOTICE_LUA = `${PRELUDE}
if redis.call('GET', KEYS[1]) ~= 'p' then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('SET', KEYS[1], '1', 'PX', S(ttl)) else redis.call('SET', KEYS[1], '1') end
return 1
`

/** RETURN: KEYS ledger, leases; ARGV instance, micros, imps. Never returns more than the lease holds. */
export const RETURN_LUA = `${PRELUDE}
local m = N(redis.call('HGET', KEYS[2], ARGV[1] .. ':m')) or 0
local i = N(redis.call('HGET', KEYS[2], ARGV[1] .. ':i')) or 0
local rm = math.min(tonumber(ARGV[2]), math.max(0, m))
local ri = math.min(tonumber(ARGV[3]), math.max(0, i))
if rm > 0 then
  redis.call('HINCRBY', KEYS[2], ARGV[1] .. ':m', S(-rm))
  redis.call('HINCRBY', KEYS[1], 'leased', S(-rm))
end
if ri > 0 then
  redis.call('HINCRBY', KEYS[2], ARGV[1] .. ':i', S(-ri))
  redis.call('HINCRBY', KEYS[1], 'leasedImps', S(-ri))
end
if m - rm <= 0 and i - ri <= 0 then redis.call('HDEL', KEYS[2], ARGV[1] .. ':m', ARGV[1] .. ':i') end
return {S(rm), S(ri)}
`

/** REAP: KEYS ledger, leases, then the inbox of each dead instance; ARGV the dead instances. */
export const REAP_LUA = `${PRELUDE}
local m, i = 0, 0
for j = 1, #ARGV do
  local lm = N(redis.call('HGET', KEYS[2], ARGV[j] .. ':m')) or 0
  local li = N(redis.call('HGET', KEYS[2], ARGV[j] .. ':i')) or 0
  if lm > 0 then m = m + lm end
  if li > 0 then i = i + li end
  redis.call('HDEL', KEYS[2], ARGV[j] .. ':m', ARGV[j] .. ':i')
  redis.call('DEL', KEYS[2 + j])
end
if m > 0 then redis.call('HINCRBY', KEYS[1], 'leased', S(-m)) end
if i > 0 then redis.call('HINCRBY', KEYS[1], 'leasedImps', S(-i)) end
return {S(m), S(i)}
`

/** HEARTBEAT: KEYS instances; ARGV instance, nowMs, liveWindowMs → {was added, live count}. */
export const HEARTBEAT_LUA = `${PRELUDE}
local added = redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local live = redis.call('ZCOUNT', KEYS[1], S(tonumber(ARGV[2]) - tonumber(ARGV[3])), '+inf')
return {added, live}
`

/** REAP_FIND: KEYS instances, lock; ARGV self, cutoffMs, lockMs → the dead, or {} when another holds the lock. */
export const REAP_FIND_LUA = `
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] then return {} end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2])
`

/**
 * FREQ_INCR: KEYS the user's counters; ARGV campaignId, nowMs, then (letter, windowMs) pairs. A
 * counter past its expiry starts again at 1; the key lives as long as its longest-lived counter.
 * Expired fields are swept when the hash grows past 64 fields.
 */
export const FREQ_INCR_LUA = `${PRELUDE}
local now = tonumber(ARGV[2])
local latest = 0
for j = 3, #ARGV, 2 do
  local field = ARGV[j] .. '/' .. ARGV[1]
  local v = redis.call('HGET', KEYS[1], field)
  local count, untilMs = 0, 0
  if v then
    local colon = string.find(v, ':', 1, true)
    if colon then
      count = tonumber(string.sub(v, 1, colon - 1)) or 0
      untilMs = tonumber(string.sub(v, colon + 1)) or 0
    end
  end
  if untilMs <= now then
    count = 0
    untilMs = now + tonumber(ARGV[j + 1])
  end
  redis.call('HSET', KEYS[1], field, S(count + 1) .. ':' .. S(untilMs))
  if untilMs > latest then latest = untilMs end
end
if redis.call('HLEN', KEYS[1]) > 64 then
  local all = redis.call('HGETALL', KEYS[1])
  for k = 1, #all, 2 do
    local colon = string.find(all[k + 1], ':', 1, true)
    local untilMs = colon and tonumber(string.sub(all[k + 1], colon + 1)) or 0
    if untilMs <= now then redis.call('HDEL', KEYS[1], all[k]) end
    if untilMs > latest then latest = untilMs end
  end
end
if latest > 0 and redis.call('PTTL', KEYS[1]) < latest - now then
  redis.call('PEXPIRE', KEYS[1], S(latest - now))
end
return 1
`

interface PacingCommands {
  pacingLease(...args: string[]): Promise<unknown[]>
  pacingCommit(...args: string[]): Promise<string>
  pacingResolve(...args: string[]): Promise<string[]>
  pacingReturn(...args: string[]): Promise<string[]>
  pacingReap(...args: string[]): Promise<string[]>
  pacingHeartbeat(...args: string[]): Promise<[number, number]>
  pacingReapFind(...args: string[]): Promise<string[]>
  pacingFreqIncr(...args: string[]): Promise<number>
  pacingNotice(...args: string[]): Promise<string>
  pacingConfirmNotice(...args: string[]): Promise<number>
}

const SCRIPTS: Readonly<Record<keyof PacingCommands, string>> = {
  pacingLease: LEASE_LUA,
  pacingCommit: COMMIT_LUA,
  pacingResolve: RESOLVE_LUA,
  pacingReturn: RETURN_LUA,
  pacingReap: REAP_LUA,
  pacingHeartbeat: HEARTBEAT_LUA,
  pacingReapFind: REAP_FIND_LUA,
  pacingFreqIncr: FREQ_INCR_LUA,
  pacingNotice: NOTICE_LUA,
  pacingConfirmNotice: CONFIRM_NOTICE_LUA,
}

export interface DragonflyPacingStoreOptions {
  readonly log: StoreLog
  /** Per command; lease refills and commits are off the request path, so this can be generous. */
  readonly commandTimeoutMs?: number
  readonly connectTimeoutMs?: number
}

/**
 * The pacing store on Dragonfly (or Redis 7) through its own ioredis connection: background work
 * with a lenient timeout, no offline queue (a call while disconnected fails at once, which the lease
 * manager treats as "keep spending the lease in hand"), and no retries (LEASE and COMMIT must not run
 * twice blindly; COMMIT is idempotent by its marker, LEASE is not).
 */
export function createDragonflyPacingStore(url: string, options: DragonflyPacingStoreOptions): PacingStore {
  const { log } = options
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: reconnectDelayMs,
    connectTimeout: options.connectTimeoutMs ?? 1_000,
    commandTimeout: options.commandTimeoutMs ?? 1_000,
    connectionName: 'exchange-pacing',
    disableClientInfo: true,
    enableReadyCheck: false,
  })
  for (const [name, lua] of Object.entries(SCRIPTS)) client.defineCommand(name, { lua })
  const run = client as unknown as PacingCommands
  let isClosed = false
  let isDownLogged = false
  client.on('error', (err: Error) => {
    if (isDownLogged || isClosed) return
    isDownLogged = true
    log.warn({ err: err.message }, 'pacing store: Dragonfly connection down; spending leases in hand')
  })
  client.on('ready', () => {
    if (isDownLogged) log.info({}, 'pacing store: Dragonfly connection is back')
    isDownLogged = false
  })

  return {
    kind: 'dragonfly',

    async connect() {
      try {
        await client.connect()
        return true
      } catch {
        return false
      }
    },
    isAvailable: () => !isClosed && client.status === 'ready',
    async close() {
      if (isClosed) return
      isClosed = true
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect())
      else client.disconnect()
    },

    async putCampaign(campaign) {
      const key = PacingKeys.campaign(campaign.id)
      const results = await client
        .multi()
        .del(key)
        .hset(key, campaignToFields(campaign))
        .sadd(PacingKeys.campaignIds, campaign.id)
        .incr(PacingKeys.campaignVersion)
        .exec()
      for (const [err] of results ?? []) if (err) throw err
    },

    async getCampaign(id) {
      const hash = await client.hgetall(PacingKeys.campaign(id))
      return isEmpty(hash) ? null : readCampaign(id, hash, log)
    },

    async loadCampaigns() {
      const ids = await client.smembers(PacingKeys.campaignIds)
      if (ids.length === 0) return []
      const pipe = client.pipeline()
      for (const id of ids) pipe.hgetall(PacingKeys.campaign(id))
      const results = (await pipe.exec()) ?? []
      const out: Campaign[] = []
      for (let i = 0; i < ids.length; i++) {
        const [err, hash] = results[i] ?? [new Error('no reply'), null]
        if (err) throw err
        if (isEmpty(hash as Record<string, string>)) continue
        const c = readCampaign(ids[i]!, hash as Record<string, string>, log)
        if (c !== null) out.push(c)
      }
      return out
    },

    async campaignVersion() {
      const v = Number((await client.get(PacingKeys.campaignVersion)) ?? 0)
      return Number.isSafeInteger(v) ? v : 0
    },

    async heartbeat(instance, nowMs, liveWindowMs) {
      const [added, live] = await run.pacingHeartbeat(
        '1',
        PacingKeys.instances,
        instance,
        ms(nowMs),
        ms(liveWindowMs),
      )
      return { liveInstances: Number(live), wasUnknown: Number(added) === 1 }
    },

    async lease(r): Promise<LeaseReply> {
      const reply = await run.pacingLease(
        '4',
        PacingKeys.campaign(r.campaignId),
        PacingKeys.ledger(r.campaignId),
        PacingKeys.leases(r.campaignId),
        PacingKeys.inbox(r.campaignId, r.instance),
        r.instance,
        ms(r.nowMs),
        ms(r.wantMicros),
        ms(r.wantImps),
        ms(r.unitMicros),
        ms(r.liveInstances),
        ms(r.leaseFractionPpm),
        ms(r.lastMileUnits),
        ms(r.maxInbox),
        ms(r.heldMicros),
        ms(r.heldImps),
      )
      const n = (i: number) => Number(reply[i])
      const flags = n(2)
      return {
        grantMicros: n(0),
        grantImps: n(1),
        isLastMile: (flags & 1) !== 0,
        isExhausted: (flags & 2) !== 0,
        ledger: {
          spentMicros: n(3),
          imps: n(4),
          daySpentMicros: n(5),
          dayImps: n(6),
          leasedMicros: n(7),
          leasedImps: n(8),
          remainingMicros: n(9),
          remainingImps: n(10),
        },
        inbox: ((reply[11] as string[] | undefined) ?? []).map(parseInboxEntry),
      }
    },

    async returnLease(instance, campaignId, micros, imps): Promise<Amounts> {
      const [m, i] = await run.pacingReturn(
        '2',
        PacingKeys.ledger(campaignId),
        PacingKeys.leases(campaignId),
        instance,
        ms(micros),
        ms(imps),
      )
      return { micros: Number(m), imps: Number(i) }
    },

    async commit(r): Promise<CommitOutcome> {
      const outcome = await run.pacingCommit(
        '5',
        PacingKeys.ledger(r.campaignId),
        PacingKeys.leases(r.campaignId),
        PacingKeys.reservation(r.campaignId, r.owner, r.seq),
        PacingKeys.inbox(r.campaignId, r.owner),
        PacingKeys.unconfirmed(r.campaignId, r.owner, r.seq),
        r.owner,
        String(r.seq),
        ms(r.priceMicros),
        ms(r.expiresAtMs),
        ms(r.nowMs),
        ms(r.graceMs),
        ms(Math.max(1, r.markerUntilMs - r.nowMs)),
        r.isLeased ? '1' : '0',
        r.owner === r.handler ? '0' : '1',
      )
      return outcome as CommitOutcome
    },

    async confirmCommit(campaignId, owner, seq) {
      return (await client.del(PacingKeys.unconfirmed(campaignId, owner, seq))) === 1
    },

    async resolveExpired(r): Promise<Resolution[]> {
      if (r.seqs.length === 0) return []
      const keys = r.seqs.map((seq) => PacingKeys.reservation(r.campaignId, r.instance, seq))
      const reply = await run.pacingResolve(String(keys.length), ...keys, ms(r.markerTtlMs))
      return r.seqs.map((seq, i) => ({ seq, committedMicros: markerPrice(reply[i]) }))
    },

    async reap(self, nowMs, deadAfterMs, lockMs): Promise<ReapResult> {
      const dead = await run.pacingReapFind(
        '2',
        PacingKeys.instances,
        PacingKeys.reaperLock,
        self,
        ms(nowMs - deadAfterMs),
        ms(lockMs),
      )
      if (dead.length === 0) return { instances: 0, micros: 0, imps: 0 }
      const ids = await client.smembers(PacingKeys.campaignIds)
      let micros = 0
      let imps = 0
      for (const id of ids) {
        const inboxes = dead.map((inst) => PacingKeys.inbox(id, inst))
        const [m, i] = await run.pacingReap(
          String(2 + dead.length),
          PacingKeys.ledger(id),
          PacingKeys.leases(id),
          ...inboxes,
          ...dead,
        )
        micros += Number(m)
        imps += Number(i)
      }
      await client.zrem(PacingKeys.instances, ...dead)
      return { instances: dead.length, micros, imps }
    },

    async ledger(campaignId, nowMs) {
      const [ledger, leases, campaign] = await Promise.all([
        client.hgetall(PacingKeys.ledger(campaignId)),
        client.hgetall(PacingKeys.leases(campaignId)),
        client.hgetall(PacingKeys.campaign(campaignId)),
      ])
      const c = isEmpty(campaign) ? null : readCampaign(campaignId, campaign, log)
      return { ...ledgerFromHash(ledger, c, nowMs), leases: leasesFromHash(leases) }
    },

    async markNotice(key, ttlMs) {
      return (await run.pacingNotice('1', PacingKeys.notice(key), ms(Math.max(1, ttlMs)))) as NoticeMark
    },

    async confirmNotice(key) {
      return Number(await run.pacingConfirmNotice('1', PacingKeys.notice(key))) === 1
    },

    async incrementFrequency(userId, campaignId, windows, nowMs) {
      if (windows.length === 0) return
      const args: string[] = [campaignId, ms(nowMs)]
      for (const w of windows) args.push(w.letter, ms(w.ms))
      await run.pacingFreqIncr('1', PacingKeys.frequency(userId), ...args)
    },

    async readFrequency(userId, nowMs) {
      const hash = await client.hgetall(PacingKeys.frequency(userId))
      return decodeCounters(Object.entries(hash), nowMs)
    },
  }
}

function ms(n: number): string {
  return String(Math.round(n))
}

function isEmpty(hash: Record<string, string> | null | undefined): boolean {
  if (hash === null || hash === undefined) return true
  for (const _ in hash) return false
  return true
}

function readCampaign(id: string, hash: Record<string, string>, log: StoreLog): Campaign | null {
  const parsed = fieldsToCampaign(id, hash)
  if ('campaign' in parsed) return parsed.campaign
  log.warn(
    { key: PacingKeys.campaign(id), problems: parsed.problems },
    'pacing store: skipping an unreadable campaign',
  )
  return null
}

/** The ledger hash as the LEASE script would report it (remaining computed the same way). */
function ledgerFromHash(h: Record<string, string>, c: Campaign | null, nowMs: number): Ledger {
  const num = (f: string) => Number(h[f] ?? 0) || 0
  const isToday = Number(h['day'] ?? -1) === Math.floor(nowMs / 86_400_000)
  const spent = num('spent')
  const daySpent = isToday ? num('daySpent') : 0
  const leased = num('leased')
  let remainingMicros = -1
  if (c?.dailyBudgetMicros != null) remainingMicros = Math.max(0, c.dailyBudgetMicros - daySpent - leased)
  if (c?.lifetimeBudgetMicros != null) {
    const life = Math.max(0, c.lifetimeBudgetMicros - spent - leased)
    if (remainingMicros < 0 || life < remainingMicros) remainingMicros = life
  }
  const remainingImps =
    c?.impressionGoal != null ? Math.max(0, c.impressionGoal - num('imps') - num('leasedImps')) : -1
  return {
    spentMicros: spent,
    imps: num('imps'),
    daySpentMicros: daySpent,
    dayImps: isToday ? num('dayImps') : 0,
    leasedMicros: leased,
    leasedImps: num('leasedImps'),
    remainingMicros,
    remainingImps,
  }
}

function leasesFromHash(h: Record<string, string>): Record<string, Amounts> {
  const out: Record<string, { micros: number; imps: number }> = {}
  for (const [field, value] of Object.entries(h)) {
    const colon = field.lastIndexOf(':')
    const instance = field.slice(0, colon)
    const entry = (out[instance] ??= { micros: 0, imps: 0 })
    if (field.endsWith(':m')) entry.micros = Number(value)
    else entry.imps = Number(value)
  }
  return out
}

/**
 * The pacing store for a Dragonfly URL, or the embedded one. The embedded one shares its frequency
 * counters with the embedded ExchangeStore, so the decoration reads what billing notices wrote.
 */
export function createPacingStore(
  url: string | null,
  exchangeStore: ExchangeStore,
  log: StoreLog,
): PacingStore {
  if (url === null || url === '') {
    const frequency = memoryFrequencyOf(exchangeStore) ?? undefined
    return createMemoryPacingStore({ data: createMemoryPacingData(frequency) })
  }
  return createDragonflyPacingStore(url, { log })
}
