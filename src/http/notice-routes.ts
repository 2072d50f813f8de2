import type { NoticeKind, NoticeResult, PacingMetrics } from '../metrics/metrics.js'
import type { LeaseManager } from '../pacing/lease-manager.js'
import type { NoticeClaims, NoticeSigner } from '../pacing/notice-token.js'
import { errorBody, writeJson } from './responses.js'
import type { HttpRequest, HttpResponse, TemplatedApp } from './uws.js'

export interface NoticeDeps {
  readonly signer: NoticeSigner
  readonly leases: Pick<LeaseManager, 'commitBilling' | 'countNotice' | 'now'>
  readonly metrics: Pick<PacingMetrics, 'notices' | 'forwards'>
  /** How long a notice that commits no reservation is remembered (≥ its token's lifetime). */
  readonly dedupeTtlMs: number
  /**
   * Calls the DSP's own URL in the background; resolves true when it answered 2xx/3xx. Called at
   * most once per notice fleet-wide: only by the handler that counted it (see handleNotice).
   */
  readonly forward?: (url: string) => Promise<boolean>
}

const FORWARD_TIMEOUT_MS = 2_000

/**
 * GET /notify/billing, /notify/win and /notify/loss: the signed URLs the exchange writes into its
 * responses. A valid token is counted once fleet-wide (a house ad's billing commits its reservation;
 * the rest are de-duplicated by key) and then forwarded to the DSP's own URL. Duplicates and
 * retries get the same 204 without a second count. A forged, tampered or expired token gets 403
 * and a metric, never a count; a store that cannot be reached gets 503 so the caller retries.
 *
 * Counting takes two steps in the store (record, then confirm), so a 503 whose write did land is
 * not lost: its retry finds the notice recorded but unconfirmed, confirms it, and is the one that
 * answers 'counted' and forwards. The forward is at most once per notice: exactly one handler
 * confirms it, and it calls the DSP once without retrying; it is lost (never doubled) when the
 * confirmation's answer is lost, the process dies before the call, or the DSP fails to answer.
 */
export function registerNoticeRoutes(app: TemplatedApp, deps: NoticeDeps): void {
  const forward = deps.forward ?? forwardOnce
  for (const kind of ['billing', 'win', 'loss'] as const) {
    app.get(`/notify/${kind}`, (res, req) => handleNotice(kind, res, req, deps, forward))
  }
}

function handleNotice(
  kind: NoticeKind,
  res: HttpResponse,
  req: HttpRequest,
  deps: NoticeDeps,
  forward: (url: string) => Promise<boolean>,
): void {
  const counted = deps.metrics.notices[kind]
  const token = req.getQuery('t') ?? ''
  if (token === '') {
    counted.invalid.inc()
    return writeJson(res, 400, errorBody('invalid_notice', 'the notice token (t) is missing', 't'))
  }
  const verdict = deps.signer.verify(token, kind, deps.leases.now())
  if (!verdict.ok) {
    const result: NoticeResult = verdict.reason === 'expired' ? 'expired' : 'forged'
    counted[result].inc()
    return writeJson(
      res,
      403,
      errorBody(result === 'expired' ? 'notice_expired' : 'notice_forged', MESSAGES[result]),
    )
  }
  let isAborted = false
  res.onAborted(() => {
    isAborted = true
  })
  count(kind, verdict.claims, deps).then((outcome) => {
    counted[outcome].inc()
    if (outcome === 'counted' && verdict.claims.forwardUrl !== '') {
      void forward(verdict.claims.forwardUrl).then((isOk) =>
        deps.metrics.forwards[isOk ? 'ok' : 'failed'].inc(),
      )
    }
    if (isAborted) return
    res.cork(() => {
      if (outcome === 'counted' || outcome === 'duplicate') writeJson(res, 204, '')
      else if (outcome === 'expired') writeJson(res, 403, errorBody('notice_expired', MESSAGES.expired))
      else
        writeJson(res, 503, errorBody('store_unavailable', 'the notice could not be recorded; retry later'))
    })
  })
}

const MESSAGES = {
  forged: 'the notice token is not valid',
  expired: 'the notice token has expired',
} as const

/** A house billing commits its reservation; everything else is counted once by its key. */
async function count(kind: NoticeKind, c: NoticeClaims, deps: NoticeDeps): Promise<NoticeResult> {
  if (kind === 'billing' && c.isHouse && c.campaignId !== '') {
    return deps.leases.commitBilling(c)
  }
  try {
    return await deps.leases.countNotice(`${kind}:${c.key}`, deps.dedupeTtlMs)
  } catch {
    return 'store_error'
  }
}

/**
 * The DSP's notice URL, once, with a deadline. The URL came signed from our own response (the DSP
 * put it in its bid), so only http(s) is accepted and redirects are not followed.
 */
export async function forwardOnce(url: string): Promise<boolean> {
  if (!/^https?:\/\//i.test(url)) return false
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), FORWARD_TIMEOUT_MS)
  try {
    const res = await fetch(url, { method: 'GET', redirect: 'manual', signal: controller.signal })
    await res.arrayBuffer().catch(() => undefined)
    return res.status < 400
  } catch {
    return false
  } finally {
    clearTimeout(timer)
  }
}
