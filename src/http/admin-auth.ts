import { createHash, timingSafeEqual } from 'node:crypto'
import type { AdminAuthResult } from '../metrics/metrics.js'
import { errorBody, writeJson } from './responses.js'
import type { HttpRequest, HttpResponse } from './uws.js'

export type { AdminAuthResult }

type Handler = (res: HttpResponse, req: HttpRequest) => void

const UNAUTHORIZED = errorBody('unauthorized', 'bearer token required')
const FORBIDDEN = errorBody('forbidden', 'wrong token, or the admin API is disabled (no ADMIN_TOKEN)')

/**
 * The admin API's bearer-token check, shared by every admin route: 401 without a bearer token,
 * 403 with a wrong one, and 403 for every call when no token is configured. The token is compared
 * as SHA-256 digests with timingSafeEqual: equal lengths, so neither the token nor its length
 * leaks through timing. Every decision is reported to `count` (the rtb_admin_requests_total metric).
 */
export function createAdminGuard(
  token: string | null,
  count: (result: AdminAuthResult) => void,
): (handler: Handler) => Handler {
  const expected = token === null ? null : digest(token)
  return (handler) => (res, req) => {
    const result = authorize(req.getHeader('authorization'), expected)
    count(result)
    if (result === 'unauthorized') return writeJson(res, 401, UNAUTHORIZED)
    if (result === 'forbidden') return writeJson(res, 403, FORBIDDEN)
    handler(res, req)
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest()
}

function authorize(header: string, expected: Buffer | null): AdminAuthResult {
  const match = /^Bearer\s+(\S+)$/i.exec(header)
  if (match === null) return 'unauthorized'
  if (expected === null) return 'forbidden'
  return timingSafeEqual(digest(match[1]!), expected) ? 'allowed' : 'forbidden'
}
