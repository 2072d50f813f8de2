/**
 * Micro-benchmark of request decoration (DESIGN.md §2, §10).
 * Run: `npx tsc -p tsconfig.json && node dist/bench/micro/decoration.bench.js`
 *
 * 1. decorate() at a full cache hit (target ≤ 3 µs): a plain hrtime loop, median of 7 reps.
 * 2. fetchDecoration against a real redis-server on loopback (started by the test harness), for each
 *    fetch strategy: sequential latency next to a bare PING (≈1.0× PING = one round trip), commands
 *    sent per decoration (MONITOR), and with 64 in flight the client CPU and GC time per decoration.
 * 3. decorate() at a miss (every part missing) through the chosen strategy.
 * Without redis-server only part 1 runs.
 */
import { PerformanceObserver } from 'node:perf_hooks'
import { Redis } from 'ioredis'
import { createDecorator } from '../../src/stages/decorate/decoration-cache.js'
import {
  DECORATION_FETCH_STRATEGIES,
  type DecorationFetchStrategy,
} from '../../src/store/decoration-fetch.js'
import { createDragonflyStore } from '../../src/store/dragonfly-store.js'
import { createMemoryStore } from '../../src/store/memory-store.js'
import { type DecorationKeys, type ExchangeStore, Want } from '../../src/store/store.js'
import { type RedisServer, redisAvailable, startRedisServer } from '../../src/testing/redis-server.js'

const REPS = 7
const HIT_OPS = 200_000
const KEY_SETS = 1_000
const SEQUENTIAL_OPS = 2_000
const CONCURRENT_OPS = 20_000
const IN_FLIGHT = 64
const QUIET_LOG = { warn() {}, info() {} }

/** Keeps results alive so the JIT cannot drop the work. */
let sink = 0

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[sorted.length >> 1]!
}

function keySet(i: number): DecorationKeys {
  return {
    userId: `user-${i}`,
    domain: `site${i % 50}.example`,
    pageUrl: `https://site${i % 50}.example/article/${i}?ref=home`,
    publisherId: `pub-${i % 20}`,
  }
}

const KEYS = Array.from({ length: KEY_SETS }, (_, i) => keySet(i))

async function seed(store: ExchangeStore): Promise<void> {
  for (let i = 0; i < KEY_SETS; i++) {
    const k = KEYS[i]!
    await store.setUserPreferences(k.userId!, ['IAB1', 'IAB2', 'IAB3', 'IAB9-5', 'IAB12'])
    await store.putContext('page', k.pageUrl!, {
      categories: ['IAB12', 'IAB12-3'],
      brandSafetyFlags: i % 10 === 0 ? ['violence'] : [],
      sentiment: 'neutral',
    })
    if (i < 50) {
      await store.putContext('domain', k.domain!, {
        categories: ['IAB12'],
        brandSafetyFlags: [],
        sentiment: null,
      })
    }
    if (i < 20)
      await store.putPublisher(k.publisherId!, {
        floorCpm: 0.5,
        bcat: ['IAB25', 'IAB26'],
        badv: ['x.example'],
      })
  }
}

async function benchCacheHit(): Promise<void> {
  const store = createMemoryStore()
  await seed(store)
  const decorator = createDecorator({
    store,
    ttlMs: 3_600_000,
    negativeTtlMs: 60_000,
    maxEntries: 10_000,
    deadlineMs: 5,
  })
  for (const k of KEYS) await decorator.decorate(k)
  const run = (keys: readonly DecorationKeys[]) => {
    const samples: number[] = []
    for (let rep = -1; rep < REPS; rep++) {
      const start = process.hrtime.bigint()
      for (let i = 0; i < HIT_OPS; i++) {
        const d = decorator.decorate(keys[i % keys.length]!)
        if (d instanceof Promise) throw new Error('expected a cache hit')
        sink += d.source.length
      }
      if (rep >= 0) samples.push(Number(process.hrtime.bigint() - start) / HIT_OPS)
    }
    return median(samples)
  }
  console.log('\n1. decorate() at a full cache hit (synchronous), median of 7 reps × 200k ops')
  console.log(`   4 keys, ${KEY_SETS} key sets rotating     ${run(KEYS).toFixed(0).padStart(6)} ns/op`)
  const noKeys = [{ userId: null, domain: null, pageUrl: null, publisherId: null }]
  console.log(`   no keys (shared frozen answer)         ${run(noKeys).toFixed(0).padStart(6)} ns/op`)
  await store.close()
}

interface StrategyResult {
  name: string
  sequentialUs: number
  commandsPerDecoration: number
  cpuUs: number
  gcMsPer10k: number
  throughput: number
}

async function pingLatencyUs(url: string): Promise<number> {
  const client = new Redis(url, { lazyConnect: true })
  await client.connect()
  const samples: number[] = []
  for (let rep = -1; rep < REPS; rep++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < SEQUENTIAL_OPS; i++) await client.ping()
    if (rep >= 0) samples.push(Number(process.hrtime.bigint() - start) / SEQUENTIAL_OPS / 1000)
  }
  await client.quit()
  return median(samples)
}

async function benchStrategy(
  server: RedisServer,
  strategy: DecorationFetchStrategy,
  protocol: 2 | 3,
): Promise<StrategyResult> {
  const store = createDragonflyStore(server.url, {
    log: QUIET_LOG,
    decorationFetch: strategy,
    protocol,
    commandTimeoutMs: 1_000,
  })
  if (!(await store.connect())) throw new Error('store did not connect')
  for (let i = 0; i < 2_000; i++) sink += (await store.fetchDecoration(KEYS[i % KEY_SETS]!, Want.all)) ? 1 : 0

  // Commands per decoration, as the server saw them (script-internal calls excluded).
  const monitor = await server.monitor()
  for (let i = 0; i < 100; i++) await store.fetchDecoration(KEYS[i]!, Want.all)
  await new Promise((resolve) => setTimeout(resolve, 50))
  const commandsPerDecoration = monitor.commands().length / 100
  monitor.stop()

  const sequential: number[] = []
  const cpu: number[] = []
  const gc: number[] = []
  const throughput: number[] = []
  let gcMs = 0
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMs += entry.duration
  })
  observer.observe({ entryTypes: ['gc'] })
  for (let rep = 0; rep < REPS; rep++) {
    let start = process.hrtime.bigint()
    for (let i = 0; i < SEQUENTIAL_OPS; i++) await store.fetchDecoration(KEYS[i % KEY_SETS]!, Want.all)
    sequential.push(Number(process.hrtime.bigint() - start) / SEQUENTIAL_OPS / 1000)

    await new Promise((resolve) => setImmediate(resolve))
    gcMs = 0
    const cpuStart = process.cpuUsage()
    start = process.hrtime.bigint()
    let issued = 0
    await new Promise<void>((resolve, reject) => {
      let done = 0
      const next = (): void => {
        if (issued >= CONCURRENT_OPS) return
        const i = issued++
        store.fetchDecoration(KEYS[i % KEY_SETS]!, Want.all).then((d) => {
          sink += d.publisher === null ? 0 : 1
          if (++done === CONCURRENT_OPS) resolve()
          else next()
        }, reject)
      }
      for (let i = 0; i < IN_FLIGHT; i++) next()
    })
    const wallS = Number(process.hrtime.bigint() - start) / 1e9
    const used = process.cpuUsage(cpuStart)
    await new Promise((resolve) => setImmediate(resolve))
    cpu.push((used.user + used.system) / CONCURRENT_OPS)
    gc.push((gcMs / CONCURRENT_OPS) * 10_000)
    throughput.push(CONCURRENT_OPS / wallS)
  }
  observer.disconnect()
  await store.close()
  return {
    name: `${strategy}${protocol === 2 ? ' (RESP2)' : ''}`,
    sequentialUs: median(sequential),
    commandsPerDecoration,
    cpuUs: median(cpu),
    gcMsPer10k: median(gc),
    throughput: median(throughput),
  }
}

async function benchDecoratorMiss(server: RedisServer): Promise<void> {
  const store = createDragonflyStore(server.url, { log: QUIET_LOG, commandTimeoutMs: 1_000 })
  await store.connect()
  // A huge cache and unique keys: every decorate() misses all four parts.
  const decorator = createDecorator({
    store,
    ttlMs: 3_600_000,
    negativeTtlMs: 60_000,
    maxEntries: 1e7,
    deadlineMs: 50,
  })
  let n = 0
  const fresh = (): DecorationKeys => {
    n++
    return {
      userId: `u${n}`,
      domain: `d${n}.example`,
      pageUrl: `https://d${n}.example/${n}`,
      publisherId: `p${n}`,
    }
  }
  const outcomes = { miss: 0, other: 0 }
  const samples: number[] = []
  for (let rep = -1; rep < REPS; rep++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < SEQUENTIAL_OPS; i++) {
      const d = await decorator.decorate(fresh())
      if (d.source === 'store') outcomes.miss++
      else outcomes.other++
      if (decorator.size > 100_000) decorator.clear()
    }
    if (rep >= 0) samples.push(Number(process.hrtime.bigint() - start) / SEQUENTIAL_OPS / 1000)
  }
  console.log('\n3. decorate() at a full miss (4 parts, one EVALSHA), sequential, median of 7 reps × 2k')
  console.log(
    `   ${median(samples).toFixed(1)} µs per decoration (${outcomes.other} of ${outcomes.miss + outcomes.other} not from the store)`,
  )
  await store.close()
}

async function main(): Promise<void> {
  await benchCacheHit()
  if (!redisAvailable()) {
    console.log('\nSKIPPED parts 2 and 3: redis-server not installed (Debian: apt-get install redis-server)')
    return
  }
  const server = await startRedisServer()
  try {
    const seeder = createDragonflyStore(server.url, { log: QUIET_LOG })
    await seeder.connect()
    await seed(seeder)
    await seeder.close()

    const pingUs = await pingLatencyUs(server.url)
    console.log(`\n2. fetchDecoration, all 4 parts present, redis-server 7 on loopback, ioredis 6.0.0`)
    console.log(`   bare PING round trip: ${pingUs.toFixed(1)} µs (sequential)`)
    console.log(
      `   ${'strategy'.padEnd(20)} ${'cmds/dec'.padStart(8)} ${'seq µs'.padStart(8)} ${'×PING'.padStart(6)}` +
        ` ${'CPU µs/dec @64'.padStart(15)} ${'GC ms/10k'.padStart(10)} ${'dec/s @64'.padStart(10)}`,
    )
    const variants: [DecorationFetchStrategy, 2 | 3][] = [
      ...DECORATION_FETCH_STRATEGIES.map((s): [DecorationFetchStrategy, 2 | 3] => [s, 3]),
      ['script', 2],
      ['commands', 2],
    ]
    for (const [strategy, protocol] of variants) {
      const r = await benchStrategy(server, strategy, protocol)
      console.log(
        `   ${r.name.padEnd(20)} ${r.commandsPerDecoration.toFixed(1).padStart(8)} ${r.sequentialUs.toFixed(1).padStart(8)}` +
          ` ${(r.sequentialUs / pingUs).toFixed(2).padStart(6)} ${r.cpuUs.toFixed(1).padStart(15)}` +
          ` ${r.gcMsPer10k.toFixed(2).padStart(10)} ${r.throughput.toFixed(0).padStart(10)}`,
      )
    }
    await benchDecoratorMiss(server)
  } finally {
    await server.stop()
  }
  if (sink === -1) console.log(sink)
}

await main()
