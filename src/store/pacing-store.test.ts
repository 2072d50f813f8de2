import { after, before } from 'node:test'
import { type RedisServer, redisSkipReason, startRedisServer } from '../testing/redis-server.js'
import { createDragonflyPacingStore } from './dragonfly-pacing-store.js'
import { createMemoryPacingData, createMemoryPacingStore } from './memory-pacing-store.js'
import { pacingStoreContract } from './pacing-store.contract.js'
import type { PacingStore } from './pacing-store.js'

const QUIET = { warn() {}, info() {} }

pacingStoreContract('memory', async (count) => {
  const data = createMemoryPacingData()
  return Array.from({ length: count }, () => createMemoryPacingStore({ data }))
})

const skipRedis = redisSkipReason()
let server: RedisServer | null = null
const open: PacingStore[] = []

before(async () => {
  if (skipRedis === false) server = await startRedisServer()
})
after(async () => {
  await Promise.all(open.map((s) => s.close()))
  await server?.stop()
})

pacingStoreContract(
  'redis-server (Lua scripts)',
  async (count) => {
    await Promise.all(open.splice(0).map((s) => s.close()))
    await server!.command('FLUSHALL')
    const stores = Array.from({ length: count }, () =>
      createDragonflyPacingStore(server!.url, { log: QUIET }),
    )
    open.push(...stores)
    await Promise.all(stores.map((s) => s.connect()))
    return stores
  },
  skipRedis !== false,
)
