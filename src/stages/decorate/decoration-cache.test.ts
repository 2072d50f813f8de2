import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  type ContextData,
  type DecorationKeys,
  EMPTY_DECORATION,
  type PublisherSettings,
  type StoreDecoration,
  Want,
} from '../../store/store.js'
import {
  createDecorator,
  type Decoration,
  type DecorationOutcome,
  type DecoratorDeps,
} from './decoration-cache.js'

const PAGE: ContextData = { categories: ['IAB12'], brandSafetyFlags: [], sentiment: 'neutral' }
const DOMAIN: ContextData = { categories: ['IAB12', 'IAB13'], brandSafetyFlags: ['adult'], sentiment: null }
const PUBLISHER: PublisherSettings = { floorCpm: 0.5, bcat: ['IAB25'], badv: [] }
const KEYS: DecorationKeys = {
  userId: 'u1',
  domain: 'news.example',
  pageUrl: 'https://news.example/a',
  publisherId: 'pub-1',
}
const NO_KEYS: DecorationKeys = { userId: null, domain: null, pageUrl: null, publisherId: null }

type Mode = 'answer' | 'hold' | 'fail'

/** A store that counts calls and answers from maps: at once, when released, or never (error). */
class FakeStore {
  readonly calls: { keys: DecorationKeys; want: number }[] = []
  readonly users = new Map<string, readonly string[]>([['u1', ['IAB1', 'IAB2']]])
  readonly pages = new Map([[KEYS.pageUrl!, PAGE]])
  readonly domains = new Map([[KEYS.domain!, DOMAIN]])
  readonly publishers = new Map([[KEYS.publisherId!, PUBLISHER]])
  mode: Mode = 'answer'
  isUp = true
  readonly #held: (() => void)[] = []

  isAvailable(): boolean {
    return this.isUp
  }

  fetchDecoration(keys: DecorationKeys, want: number): Promise<StoreDecoration> {
    this.calls.push({ keys, want })
    if (this.mode === 'fail') return Promise.reject(new Error('store down'))
    const answer = (): StoreDecoration => ({
      userCategories: want & Want.user ? (this.users.get(keys.userId!) ?? null) : null,
      pageContext: want & Want.page ? (this.pages.get(keys.pageUrl!) ?? null) : null,
      domainContext: want & Want.domain ? (this.domains.get(keys.domain!) ?? null) : null,
      publisher: want & Want.publisher ? (this.publishers.get(keys.publisherId!) ?? null) : null,
    })
    if (this.mode === 'answer') return Promise.resolve(answer())
    return new Promise((resolve) => this.#held.push(() => resolve(answer())))
  }

  /** Answers every held call. */
  release(): void {
    for (const answer of this.#held.splice(0)) answer()
  }
}

function setup(overrides: Partial<DecoratorDeps> = {}) {
  const store = new FakeStore()
  let clockMs = 1_000
  const outcomes: DecorationOutcome[] = []
  const decorator = createDecorator({
    store,
    ttlMs: 60_000,
    negativeTtlMs: 5_000,
    maxEntries: 100,
    deadlineMs: 20,
    now: () => clockMs,
    onOutcome: (o) => outcomes.push(o),
    ...overrides,
  })
  return {
    store,
    decorator,
    outcomes,
    advance(ms: number) {
      clockMs += ms
    },
  }
}

function sync(result: Decoration | Promise<Decoration>): Decoration {
  assert.ok(!(result instanceof Promise), 'expected a synchronous answer')
  return result
}

function async(result: Decoration | Promise<Decoration>): Promise<Decoration> {
  assert.ok(result instanceof Promise, 'expected a store round trip')
  return result
}

const FULL = {
  userCategories: ['IAB1', 'IAB2'],
  pageContext: PAGE,
  domainContext: DOMAIN,
  publisher: PUBLISHER,
}

describe('decorator (cache-aside in front of the store)', () => {
  it('fetches every missing part of an auction in ONE store call, then answers synchronously', async () => {
    const { store, decorator, outcomes } = setup()
    assert.deepEqual(await async(decorator.decorate(KEYS)), { ...FULL, source: 'store' })
    assert.equal(store.calls.length, 1)
    assert.equal(store.calls[0]!.want, Want.all)
    assert.deepEqual(sync(decorator.decorate({ ...KEYS })), { ...FULL, source: 'cache' })
    assert.equal(store.calls.length, 1)
    assert.deepEqual(outcomes, ['miss', 'hit'])
    assert.equal(decorator.size, 4)
  })

  it('answers an auction without keys synchronously, with a shared object, and no store call', () => {
    const { store, decorator } = setup()
    const first = sync(decorator.decorate(NO_KEYS))
    assert.deepEqual(first, { ...EMPTY_DECORATION, source: 'cache' })
    assert.equal(sync(decorator.decorate(NO_KEYS)), first)
    assert.equal(store.calls.length, 0)
  })

  it('asks the store only for the parts it is missing', async () => {
    const { store, decorator } = setup()
    await decorator.decorate(KEYS)
    store.domains.set('other.example', PAGE)
    const found = await async(decorator.decorate({ ...KEYS, domain: 'other.example' }))
    assert.equal(store.calls.length, 2)
    assert.equal(store.calls[1]!.want, Want.domain)
    assert.deepEqual(found, { ...FULL, domainContext: PAGE, source: 'store' })
  })

  it('fetches again once the TTL has passed', async () => {
    const { store, decorator, advance } = setup()
    await decorator.decorate(KEYS)
    advance(59_999)
    sync(decorator.decorate(KEYS))
    advance(1)
    store.publishers.set('pub-1', { ...PUBLISHER, floorCpm: 2 })
    const found = await async(decorator.decorate(KEYS))
    assert.equal(found.publisher?.floorCpm, 2)
    assert.equal(store.calls.length, 2)
  })

  it('remembers a missing key for the shorter negative TTL', async () => {
    const { store, decorator, advance } = setup()
    const stranger = { ...NO_KEYS, userId: 'stranger' }
    assert.deepEqual(await async(decorator.decorate(stranger)), { ...EMPTY_DECORATION, source: 'store' })
    assert.deepEqual(sync(decorator.decorate(stranger)), { ...EMPTY_DECORATION, source: 'cache' })
    advance(4_999)
    sync(decorator.decorate(stranger))
    advance(1)
    store.users.set('stranger', ['IAB9'])
    assert.deepEqual((await async(decorator.decorate(stranger))).userCategories, ['IAB9'])
    assert.equal(store.calls.length, 2)
  })

  it('holds at most maxEntries per part, dropping the oldest first', async () => {
    const { store, decorator } = setup({ maxEntries: 3 })
    for (const id of ['a', 'b', 'c', 'd', 'e']) await decorator.decorate({ ...NO_KEYS, userId: id })
    assert.equal(decorator.size, 3)
    sync(decorator.decorate({ ...NO_KEYS, userId: 'e' }))
    sync(decorator.decorate({ ...NO_KEYS, userId: 'c' }))
    await async(decorator.decorate({ ...NO_KEYS, userId: 'a' })) // evicted
    assert.equal(decorator.size, 3)
    assert.equal(store.calls.length, 6)
  })

  it('lets concurrent misses share one fetch per key', async () => {
    const { store, decorator } = setup()
    store.mode = 'hold'
    const first = async(decorator.decorate(KEYS))
    const second = async(decorator.decorate({ ...KEYS }))
    // Overlapping: shares the user, page and domain in flight; fetches only its own publisher.
    const third = async(decorator.decorate({ ...KEYS, publisherId: 'pub-2' }))
    assert.equal(store.calls.length, 2)
    assert.equal(store.calls[1]!.want, Want.publisher)
    store.release()
    const [a, b, c] = await Promise.all([first, second, third])
    assert.deepEqual(a, { ...FULL, source: 'store' })
    assert.deepEqual(b, a)
    assert.deepEqual(c, { ...FULL, publisher: null, source: 'store' })
  })

  it('goes on with what the cache had when the store misses the deadline', async () => {
    const { store, decorator, outcomes } = setup({ deadlineMs: 15 })
    await decorator.decorate({ ...NO_KEYS, publisherId: 'pub-1' }) // cached
    store.mode = 'hold'
    const startedAt = performance.now()
    const found = await async(decorator.decorate(KEYS))
    const tookMs = performance.now() - startedAt
    assert.ok(tookMs >= 14 && tookMs < 200, `waited ${tookMs.toFixed(1)} ms`)
    assert.deepEqual(found, { ...EMPTY_DECORATION, publisher: PUBLISHER, source: 'partial' })
    const none = await async(decorator.decorate({ ...NO_KEYS, userId: 'u2' }))
    assert.equal(none.source, 'none')
    assert.deepEqual(outcomes, ['miss', 'timeout', 'timeout'])
  })

  it('fills the cache with an answer that came after the deadline', async () => {
    const { store, decorator } = setup({ deadlineMs: 5 })
    store.mode = 'hold'
    assert.equal((await async(decorator.decorate(KEYS))).source, 'none')
    store.release()
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(sync(decorator.decorate(KEYS)), { ...FULL, source: 'cache' })
    assert.equal(store.calls.length, 1)
  })

  it('goes on undecorated when the store fails, and does not cache the failure', async () => {
    const { store, decorator, outcomes } = setup()
    await decorator.decorate({ ...NO_KEYS, userId: 'u1' })
    store.mode = 'fail'
    const found = await async(decorator.decorate(KEYS))
    assert.deepEqual(found, { ...EMPTY_DECORATION, userCategories: ['IAB1', 'IAB2'], source: 'partial' })
    store.mode = 'answer'
    assert.equal((await async(decorator.decorate(KEYS))).source, 'store')
    assert.deepEqual(outcomes, ['miss', 'error', 'miss'])
  })

  it('costs nothing while the store is known to be down: no call, no timer, a synchronous answer', () => {
    const { store, decorator, outcomes } = setup()
    store.isUp = false
    assert.deepEqual(sync(decorator.decorate(KEYS)), { ...EMPTY_DECORATION, source: 'none' })
    assert.equal(store.calls.length, 0)
    assert.deepEqual(outcomes, ['error'])
  })

  it('survives a store that throws instead of rejecting', async () => {
    const { store, decorator } = setup()
    store.fetchDecoration = () => {
      throw new Error('bug')
    }
    assert.equal((await async(decorator.decorate(KEYS))).source, 'none')
  })

  it('forgets everything on clear(), including answers still on the way', async () => {
    const { store, decorator } = setup()
    await decorator.decorate(KEYS)
    store.mode = 'hold'
    const pending = decorator.decorate({ ...KEYS, userId: 'u2' })
    decorator.clear()
    assert.equal(decorator.size, 0)
    store.release()
    await pending
    assert.equal(decorator.size, 0)
  })

  it('refuses nonsensical settings', () => {
    assert.throws(() => setup({ ttlMs: 0 }), RangeError)
    assert.throws(() => setup({ maxEntries: 0 }), RangeError)
  })
})
