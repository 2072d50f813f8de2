import type { Redis } from 'ioredis'
import { decodeCounterList, decodeCounters } from '../pacing/frequency.js'
import { PacingKeys } from './pacing-store.js'
import { commaList, fieldsToContext, fieldsToPublisher, Keys } from './redis-codec.js'
import {
  type ContextData,
  type DecorationKeys,
  type DecorationWant,
  EMPTY_DECORATION,
  type PublisherSettings,
  type StoreDecoration,
  Want,
} from './store.js'

/**
 * How fetchDecoration talks to Dragonfly. All four are one round trip (nothing waits for a reply
 * before sending the next command); they differ in client CPU and garbage. Measured with
 * bench/micro/decoration.bench.ts: redis-server 7 on loopback, ioredis 6.0.0 (RESP3), all four
 * parts present, 64 decorations in flight, medians of 7 reps, three runs on the shared 2-core build
 * machine (load average 2.5–5, so read the ratios, not the absolutes):
 *
 *   strategy       commands sent   client CPU µs/decoration   GC ms per 10k decorations
 *   script         1 (EVALSHA)     13.6 – 16.8                 7.8 – 10.5
 *   commands       4               38 – 50                     7.2 – 24
 *   pipeline       4, one write    46 – 55                    76 – 159
 *   autopipeline   4, batched      36 – 41                    83 – 155
 *
 * 'script' is the default: one command and one flat reply of at most 10 short strings — no
 * Pipeline object, no HGETALL objects, a third of the CPU of the next best, and GC as low as plain
 * commands (pipeline()/autopipelining show ~10× more, as in the prototype, research C). Server side it
 * costs ~12 µs per call (INFO commandstats), far from a limit. The others stay for the benchmark.
 */
export type DecorationFetchStrategy = 'script' | 'commands' | 'pipeline' | 'autopipeline'

export const DECORATION_FETCH_STRATEGIES: readonly DecorationFetchStrategy[] = [
  'script',
  'commands',
  'pipeline',
  'autopipeline',
]

export type DecorationFetch = (keys: DecorationKeys, want: DecorationWant) => Promise<StoreDecoration>

/**
 * One reply for the whole decoration, flat: [user categories joined by ',', page categories, page
 * flags, page sentiment, domain ×3, publisher floor, bcat, badv] and, only when asked (a 5th part
 * flag), the user's frequency counters as `field=value` pairs joined by ','. A part whose key does not exist
 * is nil (false) in all its slots; an existing hash has '' for a missing field. pcall: a key of the
 * wrong type (hand-written by mistake) reads as missing instead of failing the whole decoration.
 * Every key is declared in KEYS, as Dragonfly requires. No shebang flags: Redis 7 and Dragonfly
 * accept different sets.
 */
export const DECORATE_LUA = `
local out = {false, false, false, false, false, false, false, false, false, false}
local parts = ARGV[1]
local k = 1
local function ok(reply) return type(reply) == 'table' and reply.err == nil end
if string.byte(parts, 1) == 49 then
  local members = redis.pcall('SMEMBERS', KEYS[k])
  k = k + 1
  if ok(members) and #members > 0 then out[1] = table.concat(members, ',') end
end
local function hash(at, f1, f2, f3)
  local key = KEYS[k]
  k = k + 1
  local v = redis.pcall('HMGET', key, f1, f2, f3)
  if not ok(v) then return end
  if v[1] or v[2] or v[3] or redis.call('EXISTS', key) == 1 then
    out[at] = v[1] or ''
    out[at + 1] = v[2] or ''
    out[at + 2] = v[3] or ''
  end
end
if string.byte(parts, 2) == 49 then hash(2, 'categories', 'flags', 'sentiment') end
if string.byte(parts, 3) == 49 then hash(5, 'categories', 'flags', 'sentiment') end
if string.byte(parts, 4) == 49 then hash(8, 'floor', 'bcat', 'badv') end
if string.byte(parts, 5) == 49 then
  local fields = redis.pcall('HGETALL', KEYS[k])
  k = k + 1
  local flat = {}
  if ok(fields) then
    for j = 1, #fields, 2 do flat[#flat + 1] = fields[j] .. '=' .. fields[j + 1] end
  end
  out[11] = table.concat(flat, ',')
end
return out
`

/** ARGV[1] of the script for each want mask: one '0'/'1' per part, user, page, domain, publisher, frequency. */
const PART_FLAGS: readonly string[] = Array.from(
  { length: 32 },
  (_, mask) =>
    `${mask & Want.user ? 1 : 0}${mask & Want.page ? 1 : 0}${mask & Want.domain ? 1 : 0}${mask & Want.publisher ? 1 : 0}` +
    `${mask & Want.frequency ? 1 : 0}`,
)

const SCRIPT_COMMAND = 'exchangeDecorate'

interface ScriptClient {
  exchangeDecorate(...args: (string | number)[]): Promise<unknown[]>
}

/** Which parts this auction asks for and has a key for. */
function effectiveWant(keys: DecorationKeys, want: DecorationWant): number {
  let mask = 0
  if ((want & Want.user) !== 0 && keys.userId !== null) mask |= Want.user
  if ((want & Want.page) !== 0 && keys.pageUrl !== null) mask |= Want.page
  if ((want & Want.domain) !== 0 && keys.domain !== null) mask |= Want.domain
  if ((want & Want.publisher) !== 0 && keys.publisherId !== null) mask |= Want.publisher
  if ((want & Want.frequency) !== 0 && keys.userId !== null) mask |= Want.frequency
  return mask
}

const NOTHING: Promise<StoreDecoration> = Promise.resolve(EMPTY_DECORATION)

/** Builds the fetch for `strategy` on `client` (which must have autopipelining on for 'autopipeline'). */
export function createDecorationFetch(client: Redis, strategy: DecorationFetchStrategy): DecorationFetch {
  if (strategy === 'script') {
    client.defineCommand(SCRIPT_COMMAND, { lua: DECORATE_LUA })
    const scripted = client as unknown as ScriptClient
    return (keys, want) => {
      const mask = effectiveWant(keys, want)
      if (mask === 0) return NOTHING
      const k = wantedKeys(keys, mask)
      const askedAtMs = Date.now()
      const reply = scripted.exchangeDecorate(k.length, ...k, PART_FLAGS[mask]!)
      return reply.then((r) => fromScriptReply(r, askedAtMs))
    }
  }
  if (strategy === 'pipeline') {
    return (keys, want) => {
      const mask = effectiveWant(keys, want)
      if (mask === 0) return NOTHING
      const pipe = client.pipeline()
      if (mask & Want.user) pipe.smembers(Keys.userPreference(keys.userId!))
      if (mask & Want.page) pipe.hgetall(Keys.pageContext(keys.pageUrl!))
      if (mask & Want.domain) pipe.hgetall(Keys.domainContext(keys.domain!))
      if (mask & Want.publisher) pipe.hgetall(Keys.publisher(keys.publisherId!))
      if (mask & Want.frequency) pipe.hgetall(PacingKeys.frequency(keys.userId!))
      const askedAtMs = Date.now()
      return pipe.exec().then((results) => {
        const replies: unknown[] = []
        for (const [err, value] of results ?? []) {
          if (err) throw err
          replies.push(value)
        }
        return fromCommandReplies(mask, replies, askedAtMs)
      })
    }
  }
  // 'commands' and 'autopipeline': plain concurrent commands issued in the same tick. Without
  // autopipelining each is its own socket write, but none waits for another's reply: one round trip.
  return (keys, want) => {
    const mask = effectiveWant(keys, want)
    if (mask === 0) return NOTHING
    const pending: Promise<unknown>[] = []
    if (mask & Want.user) pending.push(client.smembers(Keys.userPreference(keys.userId!)))
    if (mask & Want.page) pending.push(client.hgetall(Keys.pageContext(keys.pageUrl!)))
    if (mask & Want.domain) pending.push(client.hgetall(Keys.domainContext(keys.domain!)))
    if (mask & Want.publisher) pending.push(client.hgetall(Keys.publisher(keys.publisherId!)))
    if (mask & Want.frequency) pending.push(client.hgetall(PacingKeys.frequency(keys.userId!)))
    const askedAtMs = Date.now()
    return Promise.all(pending).then((replies) => fromCommandReplies(mask, replies, askedAtMs))
  }
}

function wantedKeys(keys: DecorationKeys, mask: number): string[] {
  const out: string[] = []
  if (mask & Want.user) out.push(Keys.userPreference(keys.userId!))
  if (mask & Want.page) out.push(Keys.pageContext(keys.pageUrl!))
  if (mask & Want.domain) out.push(Keys.domainContext(keys.domain!))
  if (mask & Want.publisher) out.push(Keys.publisher(keys.publisherId!))
  if (mask & Want.frequency) out.push(PacingKeys.frequency(keys.userId!))
  return out
}

/** RESP2 turns the script's false into nil, RESP3 into a boolean: anything but a string is "absent". */
function fromScriptReply(reply: unknown[], askedAtMs: number): StoreDecoration {
  const user = reply[0]
  const userCategories = typeof user === 'string' ? commaList(user) : null
  const pageContext = contextAt(reply, 1)
  const domainContext = contextAt(reply, 4)
  const floor = reply[7]
  const publisher = typeof floor === 'string' ? fieldsToPublisher(floor, str(reply[8]), str(reply[9])) : null
  const counters = reply[10]
  if (typeof counters === 'string') {
    const frequency = decodeCounterList(counters, Date.now(), askedAtMs)
    return { userCategories, pageContext, domainContext, publisher, frequency }
  }
  if (userCategories === null && pageContext === null && domainContext === null && publisher === null) {
    return EMPTY_DECORATION
  }
  return { userCategories, pageContext, domainContext, publisher }
}

function contextAt(reply: unknown[], at: number): ContextData | null {
  const categories = reply[at]
  return typeof categories === 'string'
    ? fieldsToContext(categories, str(reply[at + 1]), str(reply[at + 2]))
    : null
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null
}

function fromCommandReplies(mask: number, replies: unknown[], askedAtMs: number): StoreDecoration {
  let i = 0
  let userCategories: readonly string[] | null = null
  let pageContext: ContextData | null = null
  let domainContext: ContextData | null = null
  let publisher: PublisherSettings | null = null
  if (mask & Want.user) {
    const members = replies[i++] as string[]
    userCategories = members.length === 0 ? null : members
  }
  if (mask & Want.page) pageContext = hashToContext(replies[i++] as Record<string, string>)
  if (mask & Want.domain) domainContext = hashToContext(replies[i++] as Record<string, string>)
  if (mask & Want.publisher) {
    const hash = replies[i++] as Record<string, string>
    publisher = isEmptyHash(hash) ? null : fieldsToPublisher(hash['floor'], hash['bcat'], hash['badv'])
  }
  if (mask & Want.frequency) {
    const hash = replies[i++] as Record<string, string>
    const frequency = decodeCounters(Object.entries(hash), Date.now(), askedAtMs)
    return { userCategories, pageContext, domainContext, publisher, frequency }
  }
  return { userCategories, pageContext, domainContext, publisher }
}

function hashToContext(hash: Record<string, string>): ContextData | null {
  return isEmptyHash(hash) ? null : fieldsToContext(hash['categories'], hash['flags'], hash['sentiment'])
}

function isEmptyHash(hash: Record<string, string>): boolean {
  for (const _ in hash) return false
  return true
}
