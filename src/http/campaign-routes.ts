import { type Campaign, campaignToJson, parseCampaignInput } from '../pacing/campaign.js'
import type { CampaignStatusView, LeaseManager } from '../pacing/lease-manager.js'
import { campaignState } from '../pacing/pacing-counters.js'
import type { PacingStore } from '../store/pacing-store.js'
import type { AdminAuthResult } from './admin-auth.js'
import { createAdminGuard } from './admin-auth.js'
import { BodyReader } from './read-body.js'
import { errorBody, writeJson } from './responses.js'
import type { HttpResponse, TemplatedApp } from './uws.js'

export interface CampaignRouteDeps {
  /** Bearer token of the admin API; null = every call refused (403). */
  readonly token: string | null
  readonly store: Pick<PacingStore, 'putCampaign'>
  readonly leases: Pick<LeaseManager, 'refreshCampaigns' | 'status' | 'campaign' | 'now'>
  /** Counts admin authorization decisions. */
  readonly countAuth?: (result: AdminAuthResult) => void
}

const MAX_BODY_BYTES = 64 * 1024

/**
 * The campaign half of the admin API (DESIGN.md §3), behind the same bearer token as /ads:
 * POST /campaigns creates or replaces a campaign (201 / 200); GET /campaigns/:id answers the
 * definition, delivery so far, budget left, the leases out and this instance's pacing state.
 */
export function registerCampaignRoutes(app: TemplatedApp, deps: CampaignRouteDeps): void {
  const guard = createAdminGuard(deps.token, deps.countAuth ?? (() => {}))
  app.post(
    '/campaigns',
    guard((res) => postCampaign(res, deps)),
  )
  app.get(
    '/campaigns/:id',
    guard((res, req) => getCampaign(res, req.getParameter(0) ?? '', deps)),
  )
}

function postCampaign(res: HttpResponse, deps: CampaignRouteDeps): void {
  let isAborted = false
  res.onAborted(() => {
    isAborted = true
  })
  const reply = (status: number, body: unknown) => {
    if (!isAborted) res.cork(() => writeJson(res, status, JSON.stringify(body)))
  }
  const reader = new BodyReader(res, MAX_BODY_BYTES, false, (_r, text, failure) => {
    if (failure !== null) {
      return writeJson(res, 413, errorBody('body_too_large', 'admin bodies are limited to 64 KiB'), true)
    }
    let body: unknown
    try {
      body = JSON.parse(text!)
    } catch {
      return writeJson(res, 400, errorBody('invalid_json', 'body is not valid JSON', 'body'))
    }
    const parsed = parseCampaignInput(body)
    if ('problems' in parsed)
      return writeJson(res, 400, JSON.stringify({ error: 'invalid_campaign', ...parsed }))
    save(parsed.campaign, deps).then(
      (existed) => reply(existed ? 200 : 201, campaignToJson(parsed.campaign)),
      (err: Error) => reply(503, { error: 'store_unavailable', message: err.message }),
    )
  })
  res.onData(reader.onData)
}

/** Writes the campaign, then reloads this instance's view so it serves by the new rules at once. */
async function save(campaign: Campaign, deps: CampaignRouteDeps): Promise<boolean> {
  const existed = deps.leases.campaign(campaign.id) !== undefined
  await deps.store.putCampaign(campaign)
  await deps.leases.refreshCampaigns()
  return existed
}

function getCampaign(res: HttpResponse, id: string, deps: CampaignRouteDeps): void {
  let isAborted = false
  res.onAborted(() => {
    isAborted = true
  })
  deps.leases.status(id).then(
    (view) => {
      if (isAborted) return
      const [status, body] = view === null ? [404, { error: 'not_found', id }] : [200, statusJson(view, deps)]
      res.cork(() => writeJson(res, status, JSON.stringify(body)))
    },
    (err: Error) => {
      if (!isAborted) {
        res.cork(() =>
          writeJson(res, 503, JSON.stringify({ error: 'store_unavailable', message: err.message })),
        )
      }
    },
  )
}

/** Delivery so far, budget left (committed spend against each limit) and pacing state. */
export function statusJson(view: CampaignStatusView, deps: Pick<CampaignRouteDeps, 'leases'>) {
  const c = view.campaign
  const l = view.ledger
  const left = (limit: number | null, used: number | undefined) =>
    limit === null || used === undefined ? null : Math.max(0, limit - used)
  const lease = deps.leases.campaign(c.id)
  return {
    campaign: campaignToJson(c),
    delivery:
      l === null
        ? null
        : {
            spentMicros: l.spentMicros,
            daySpentMicros: l.daySpentMicros,
            impressions: l.imps,
            dayImpressions: l.dayImps,
          },
    budgetLeft: {
      dailyMicros: left(c.dailyBudgetMicros, l?.daySpentMicros),
      lifetimeMicros: left(c.lifetimeBudgetMicros, l?.spentMicros),
      impressions: left(c.impressionGoal, l?.imps),
    },
    leases:
      l === null
        ? null
        : {
            leasedMicros: l.leasedMicros,
            leasedImpressions: l.leasedImps,
            grantableMicros: l.remainingMicros,
            grantableImpressions: l.remainingImps,
            byInstance: l.leases,
          },
    pacing: {
      state: lease === undefined ? 'unknown' : campaignState(lease, deps.leases.now()),
      ...(view.local ?? {}),
    },
  }
}
