import { createHmac, timingSafeEqual } from 'node:crypto'

export type NoticeType = 'billing' | 'win' | 'loss'
export const NOTICE_TYPES: readonly NoticeType[] = ['billing', 'win', 'loss']

/**
 * What a signed notice URL asserts. Everything the handler needs travels in the token, so any
 * instance can handle a notice for an auction another instance ran.
 */
export interface NoticeClaims {
  readonly type: NoticeType
  readonly auctionId: string
  readonly impId: string
  /** The house ad's id, or the DSP's id. */
  readonly source: string
  readonly isHouse: boolean
  /** Clearing price, CPM micros. */
  readonly priceCpmMicros: number
  /** Epoch ms after which the notice is refused (403) and never counted. */
  readonly expiresAtMs: number
  /**
   * Unique per notice, the de-duplication key. For a paced house ad it names the reservation that
   * billing commits: `<instance>.<seq>` (the instance that holds it, and its number there).
   */
  readonly key: string
  /** The house ad's campaign; '' when the ad is not paced (or for a DSP). */
  readonly campaignId: string
  /** The reservation came out of a lease (budgeted campaign): billing shrinks that lease. */
  readonly isLeased: boolean
  /** For the frequency counters incremented on billing; '' when the request had no user id. */
  readonly userId: string
  /** The DSP's own notice URL, macros already substituted, to forward to once; '' for none. */
  readonly forwardUrl: string
}

const VERSION = 1
const TYPE_CODE: Readonly<Record<NoticeType, string>> = { billing: 'b', win: 'w', loss: 'l' }
const CODE_TYPE: Readonly<Record<string, NoticeType>> = { b: 'billing', w: 'win', l: 'loss' }
/** 32 bytes of HMAC-SHA256 in unpadded base64url. */
const SIGNATURE_CHARS = 43

export type NoticeVerdict =
  | { readonly ok: true; readonly claims: NoticeClaims }
  | { readonly ok: false; readonly reason: 'forged' | 'expired' | 'wrong_type' }

export interface NoticeSigner {
  /** `<payload>.<signature>`, both base64url: safe in a query string as is. */
  sign(claims: NoticeClaims): string
  /**
   * Checks the signature in constant time, then the expiry and the type (a billing token is not a
   * win token). Never throws: malformed input is 'forged'.
   */
  verify(token: string, expectedType: NoticeType, nowMs: number): NoticeVerdict
}

/**
 * HMAC-SHA256 notice tokens. Every instance that may receive a notice must share the secret
 * (NOTICE_SECRET): a token signed by one instance is verified by whichever one the browser reaches.
 */
export function createNoticeSigner(secret: string | Buffer): NoticeSigner {
  if (secret.length < 16) throw new RangeError('createNoticeSigner: the secret needs at least 16 bytes')
  const mac = (payload: string) => createHmac('sha256', secret).update(payload).digest()
  return {
    sign(c) {
      const payload = Buffer.from(
        JSON.stringify([
          VERSION,
          TYPE_CODE[c.type],
          c.auctionId,
          c.impId,
          c.source,
          c.isHouse ? 1 : 0,
          c.priceCpmMicros,
          c.expiresAtMs,
          c.key,
          c.campaignId,
          c.isLeased ? 1 : 0,
          c.userId,
          c.forwardUrl,
        ]),
      ).toString('base64url')
      return `${payload}.${mac(payload).toString('base64url')}`
    },

    verify(token, expectedType, nowMs) {
      const dot = token.indexOf('.')
      if (dot <= 0) return FORGED
      const payload = token.slice(0, dot)
      // The signature's text is compared, not its decoded bytes: base64 decoders ignore the last
      // character's spare bits, so two spellings would decode to one valid signature.
      const given = Buffer.from(token.slice(dot + 1))
      const expected = Buffer.from(mac(payload).toString('base64url'))
      if (given.length !== SIGNATURE_CHARS || !timingSafeEqual(given, expected)) return FORGED
      const claims = decodeClaims(payload)
      if (claims === null) return FORGED
      if (claims.type !== expectedType) return WRONG_TYPE
      if (nowMs > claims.expiresAtMs) return EXPIRED
      return { ok: true, claims }
    },
  }
}

const FORGED: NoticeVerdict = Object.freeze({ ok: false, reason: 'forged' })
const EXPIRED: NoticeVerdict = Object.freeze({ ok: false, reason: 'expired' })
const WRONG_TYPE: NoticeVerdict = Object.freeze({ ok: false, reason: 'wrong_type' })

/**
 * The claims of a token WITHOUT checking its signature: for logs, tests and debugging only. Also
 * takes a whole notice URL (`…?t=<token>`). Null when it does not decode.
 */
export function peekClaims(tokenOrUrl: string): NoticeClaims | null {
  const at = tokenOrUrl.indexOf('t=')
  const token = at >= 0 ? decodeURIComponent(tokenOrUrl.slice(at + 2).split('&')[0]!) : tokenOrUrl
  const dot = token.indexOf('.')
  return dot > 0 ? decodeClaims(token.slice(0, dot)) : null
}

/** Only reached with a valid signature: a shape mismatch means a token of another version. */
function decodeClaims(payload: string): NoticeClaims | null {
  let a: unknown
  try {
    a = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
  } catch {
    return null
  }
  if (!Array.isArray(a) || a.length !== 13 || a[0] !== VERSION) return null
  const type = CODE_TYPE[a[1] as string]
  const strings = [a[2], a[3], a[4], a[8], a[9], a[11], a[12]]
  if (type === undefined || !strings.every((s) => typeof s === 'string')) return null
  if (!Number.isSafeInteger(a[6]) || !Number.isSafeInteger(a[7])) return null
  return {
    type,
    auctionId: a[2],
    impId: a[3],
    source: a[4],
    isHouse: a[5] === 1,
    priceCpmMicros: a[6],
    expiresAtMs: a[7],
    key: a[8],
    campaignId: a[9],
    isLeased: a[10] === 1,
    userId: a[11],
    forwardUrl: a[12],
  }
}

/** `<instance>.<seq>` back into its parts; null when the key is not a reservation's. */
export function splitReservationKey(key: string): { instance: string; seq: number } | null {
  const dot = key.lastIndexOf('.')
  if (dot <= 0) return null
  const seq = Number(key.slice(dot + 1))
  return Number.isSafeInteger(seq) && seq > 0 ? { instance: key.slice(0, dot), seq } : null
}
