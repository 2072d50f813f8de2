import { type RunningApp, startApp } from '../app.js'
import { parseSeed } from '../catalog/seed.js'
import { configFromObject } from '../config/load-config.js'
import type { PacingStore } from '../store/pacing-store.js'
import type { ExchangeStore } from '../store/store.js'

/**
 * Test helpers for pacing end to end (not used by the exchange itself): an in-process exchange
 * with fast pacing settings, house ads tied to campaigns, and small HTTP helpers.
 */
/** JSON answers, read loosely: the tests assert on their fields. */
// biome-ignore lint/suspicious/noExplicitAny: test answers are read field by field
export type Loose = Record<string, any>

export const TEST_ADMIN_TOKEN = 'admin-token-for-tests-0123'
export const TEST_NOTICE_SECRET = 'notice-secret-for-tests-0123'

/** Pacing settings that make a test run in seconds, not minutes. */
export const FAST_PACING = {
  refillIntervalMs: 50,
  paceIntervalMs: 200,
  reservationTtlMs: 3_000,
  leaseTtlMs: 2_000,
  minLeaseImpressions: 2,
  lastMileImpressions: 2,
  frequencyCacheTtlMs: 0,
}

/** A house ad in the seed format, `price` a decimal CPM. */
export function houseAd(
  id: string,
  campaign: string | null,
  price = '2.00',
  size = '300x250',
): Record<string, unknown> {
  return {
    id,
    title: `Ad ${id}`,
    category: 'IAB1',
    clickURL: `https://shop.example/${id}`,
    imageURL: `https://cdn.shop.example/${id}.png`,
    price,
    sizes: [size],
    adomain: 'shop.example',
    ...(campaign === null ? {} : { campaign }),
  }
}

export interface PacedApp {
  readonly app: RunningApp
  readonly url: string
  close(): Promise<void>
}

export async function startPacedApp(
  options: {
    ads?: readonly Record<string, unknown>[]
    config?: Record<string, unknown>
    store?: ExchangeStore
    pacingStore?: PacingStore
  } = {},
): Promise<PacedApp> {
  const config = configFromObject(
    {
      port: 0,
      host: '127.0.0.1',
      adminToken: TEST_ADMIN_TOKEN,
      pacing: FAST_PACING,
      ...options.config,
    },
    { NOTICE_SECRET: TEST_NOTICE_SECRET },
  )
  const seed = options.ads === undefined ? null : parseSeed({ ads: options.ads }, 'test')
  const app = await startApp({
    config,
    log: { info() {}, warn() {}, error() {} } as never,
    seed,
    defaultMetrics: false,
    ...(options.store === undefined ? {} : { store: options.store }),
    ...(options.pacingStore === undefined ? {} : { pacingStore: options.pacingStore }),
  })
  const url = `http://127.0.0.1:${app.port}`
  return { app, url, close: () => app.drain() }
}

export interface Answer {
  readonly status: number
  readonly json: Loose | null
}

export async function request(url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, init)
  const text = await res.text()
  return { status: res.status, json: text === '' ? null : (JSON.parse(text) as Loose) }
}

export function adminPost(base: string, path: string, body: unknown): Promise<Answer> {
  return request(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
}

export function adminGet(base: string, path: string): Promise<Answer> {
  return request(`${base}${path}`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })
}

/** One banner auction for `userId`; the winning bids of the answer (empty on 204). */
export async function auction(base: string, userId: string, id = 'req'): Promise<Loose[]> {
  const res = await request(`${base}/openrtb2/auction`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      id,
      imp: [{ id: '1', banner: { format: [{ w: 300, h: 250 }] } }],
      site: { domain: 'news.example', page: 'https://news.example/a', publisher: { id: 'pub-1' } },
      device: { ua: 'Mozilla/5.0', ip: '203.0.113.9', geo: { country: 'USA' } },
      user: { id: userId },
      tmax: 100,
    }),
  })
  if (res.status !== 200) return []
  return (res.json!['seatbid'] as { bid: Loose[] }[]).flatMap((s) => s.bid)
}

/** Calls `probe` until it answers true (or throws after `timeoutMs`). */
export async function until(probe: () => Promise<boolean> | boolean, timeoutMs = 3_000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs
  while (!(await probe())) {
    if (Date.now() > giveUpAt) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** A notice URL from a response, sent to `base` (in-process apps listen on a port their publicUrl does not know). */
export function on(base: string, noticeUrl: string): string {
  const u = new URL(noticeUrl)
  return `${base}${u.pathname}${u.search}`
}
