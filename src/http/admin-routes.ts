import type { AdRecord } from '../catalog/ad.js'
import { adToJson, parseAdInput } from '../catalog/ad-input.js'
import type { CatalogHolder } from '../catalog/house-catalog.js'
import { type AdminAuthResult, createAdminGuard } from './admin-auth.js'
import { BodyReader } from './read-body.js'
import { errorBody, writeJson } from './responses.js'
import type { HttpRequest, HttpResponse, TemplatedApp } from './uws.js'

/** The store operations the admin API uses. */
export interface AdminStore {
  getAd(id: string): Promise<AdRecord | null>
  putAd(ad: AdRecord): Promise<void>
  deleteAd(id: string): Promise<boolean>
  setUserPreferences(userId: string, categories: readonly string[]): Promise<void>
  getUserPreferences(userId: string): Promise<readonly string[]>
}

export interface AdminDeps {
  readonly token: string | null
  readonly store: AdminStore
  readonly catalog: CatalogHolder
  /** Reload the catalog after a write, so this instance reads its own writes at once. */
  readonly refreshCatalog: () => Promise<void>
  /** Counts admin authorization decisions. */
  readonly countAuth?: (result: AdminAuthResult) => void
  /**
   * POST /ads/:id/explain: which filter rejects ad `id` on each imp of the posted bid request
   * (stages/filter/explain-request.ts). Absent = the route answers 404.
   */
  readonly explainAd?: (adId: string, request: unknown) => Promise<[number, unknown]>
}

const MAX_ADMIN_BODY_BYTES = 64 * 1024
const USER_ID = /^[A-Za-z0-9_.:@-]{1,128}$/
const CATEGORY = /^[A-Za-z0-9_-]{1,32}$/

/**
 * The admin API (DESIGN.md §3): house ads and user preferences, behind a bearer token compared in
 * constant time. 401 without credentials, 403 with wrong ones (or when no token is configured).
 */
export function registerAdminRoutes(app: TemplatedApp, deps: AdminDeps): void {
  const check = createAdminGuard(deps.token, deps.countAuth ?? (() => {}))
  const guard = (handler: AdminHandler) => check((res, req) => handler(res, req, deps))
  app.post('/ads', guard(postAd))
  app.post('/ads/user_preferences', guard(postUserPreferences))
  app.get('/ads/user_preferences/:userId', guard(getUserAds))
  app.post('/ads/:id/explain', guard(postExplain))
  app.get('/policies', guard(getPolicies))
  app.get('/ads/:id', guard(getAd))
  app.del('/ads/:id', guard(deleteAd))
}

type AdminHandler = (res: HttpResponse, req: HttpRequest, deps: AdminDeps) => void

/** Runs an async admin action with abort handling; errors become clear JSON answers. */
function respondAsync(res: HttpResponse, work: Promise<[number, unknown]>): void {
  let isAborted = false
  res.onAborted(() => {
    isAborted = true
  })
  work
    .catch((err: Error): [number, unknown] => [503, { error: 'store_unavailable', message: err.message }])
    .then(([status, body]) => {
      if (!isAborted) res.cork(() => writeJson(res, status, JSON.stringify(body)))
    })
}

/** Reads a JSON body under the admin size limit, then runs `use` on it. */
function withJsonBody(res: HttpResponse, use: (body: unknown) => Promise<[number, unknown]>): void {
  let isAborted = false
  res.onAborted(() => {
    isAborted = true
  })
  const reader = new BodyReader(res, MAX_ADMIN_BODY_BYTES, false, (_r, text, failure) => {
    if (failure !== null)
      return writeJson(res, 413, errorBody('body_too_large', 'admin bodies are limited to 64 KiB'), true)
    let body: unknown
    try {
      body = JSON.parse(text!)
    } catch {
      return writeJson(res, 400, errorBody('invalid_json', 'body is not valid JSON', 'body'))
    }
    use(body)
      .catch((err: Error): [number, unknown] => [503, { error: 'store_unavailable', message: err.message }])
      .then(([status, answer]) => {
        if (!isAborted) res.cork(() => writeJson(res, status, JSON.stringify(answer)))
      })
  })
  res.onData(reader.onData)
}

function postAd(res: HttpResponse, _req: HttpRequest, deps: AdminDeps): void {
  withJsonBody(res, async (body) => {
    const parsed = parseAdInput(body)
    if ('problems' in parsed) return [400, { error: 'invalid_ad', problems: parsed.problems }]
    const existed = (await deps.store.getAd(parsed.ad.id)) !== null
    await deps.store.putAd(parsed.ad)
    await deps.refreshCatalog()
    return [existed ? 200 : 201, adToJson(parsed.ad)]
  })
}

function getAd(res: HttpResponse, req: HttpRequest, deps: AdminDeps): void {
  const id = req.getParameter(0) ?? ''
  respondAsync(
    res,
    deps.store
      .getAd(id)
      .then((ad): [number, unknown] =>
        ad === null ? [404, { error: 'not_found', id }] : [200, adToJson(ad)],
      ),
  )
}

function deleteAd(res: HttpResponse, req: HttpRequest, deps: AdminDeps): void {
  const id = req.getParameter(0) ?? ''
  respondAsync(
    res,
    deps.store.deleteAd(id).then(async (deleted): Promise<[number, unknown]> => {
      if (!deleted) return [404, { error: 'not_found', id }]
      await deps.refreshCatalog()
      return [200, { deleted: id }]
    }),
  )
}

function postUserPreferences(res: HttpResponse, _req: HttpRequest, deps: AdminDeps): void {
  withJsonBody(res, async (body) => {
    const b = body as { userId?: unknown; categories?: unknown }
    if (typeof b !== 'object' || b === null || typeof b.userId !== 'string' || !USER_ID.test(b.userId)) {
      return [400, { error: 'invalid_request', field: 'userId', message: 'userId must be a string id' }]
    }
    const cats = b.categories
    if (
      !Array.isArray(cats) ||
      cats.length > 100 ||
      !cats.every((c) => typeof c === 'string' && CATEGORY.test(c))
    ) {
      return [
        400,
        {
          error: 'invalid_request',
          field: 'categories',
          message: 'categories must be up to 100 ids like "IAB12"',
        },
      ]
    }
    await deps.store.setUserPreferences(b.userId, cats as string[])
    return [200, { userId: b.userId, categories: cats }]
  })
}

/** The ads matching the user's preferred categories (the seed's "ads for this user"). */
function getUserAds(res: HttpResponse, req: HttpRequest, deps: AdminDeps): void {
  const userId = req.getParameter(0) ?? ''
  respondAsync(
    res,
    deps.store.getUserPreferences(userId).then((categories): [number, unknown] => {
      const ads = [...deps.catalog.current.ads()]
        .filter((ad) => categories.includes(ad.category))
        .map(adToJson)
      return [200, { userId, categories, ads }]
    }),
  )
}

/** Explains one ad against a posted bid request: the first filter (and every one) rejecting it per imp. */
function postExplain(res: HttpResponse, req: HttpRequest, deps: AdminDeps): void {
  const id = req.getParameter(0) ?? ''
  const explain = deps.explainAd
  if (explain === undefined) return writeJson(res, 404, errorBody('not_found', 'explain is not available'))
  withJsonBody(res, (body) => explain(id, body))
}

/** The exchange policy rules in force (from the seed), as the catalog folded them in. */
function getPolicies(res: HttpResponse, _req: HttpRequest, deps: AdminDeps): void {
  const catalog = deps.catalog.current
  const policies = catalog.policies.map((rule) =>
    rule.kind === 'domain_min_cpm'
      ? { ...rule, minCpmMicros: undefined, minCpm: rule.minCpmMicros / 1e6 }
      : rule,
  )
  writeJson(res, 200, JSON.stringify({ catalogVersion: catalog.version, count: policies.length, policies }))
}
