import type { BidRequest } from '../../openrtb/types.js'
import { isCurrencyCode } from './currency-codes.js'
import {
  fail,
  firstDuplicateIndex,
  firstNotCount,
  firstNotFlag,
  firstNotObject,
  firstNotStrings,
  isCount,
  isFlag,
  isNonEmptyString,
  isObject,
  type JsonObject,
  MUST_BE_COUNT,
  MUST_BE_CURRENCY,
  MUST_BE_FLAG,
  MUST_BE_OBJECT,
  MUST_BE_STRINGS,
  REQUIRED_ID,
  under,
} from './json-checks.js'
import { checkImp } from './validate-imp.js'

/**
 * The validate stage: the first problem in an inbound OpenRTB 2.5 / 2.6 BidRequest, named by its
 * path (`imp[1].banner.format[0].w`), which the HTTP layer returns with a 400.
 *
 * Checked: what the protocol requires, the types of the fields later stages read, and values that
 * cannot be meant (negative sizes, unknown currencies). Unknown fields and `ext` contents pass
 * untouched, so 2.5 partners' `regs.ext.gdpr`, `user.ext.consent` and `source.ext.schain` are fine.
 * Runs on every request: hand-written checks, the input is never mutated, and strings are built
 * only when a problem is reported. A field sent as `null` counts as present with the wrong type.
 */
export interface RequestProblem {
  readonly field: string
  readonly message: string
}

export type ParseResult =
  | { readonly ok: true; readonly request: BidRequest }
  | { readonly ok: false; readonly problem: RequestProblem }

/** JSON.parse + validateBidRequest; malformed JSON -> field "body". */
export function parseBidRequest(text: string): ParseResult {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { ok: false, problem: MALFORMED_JSON }
  }
  return validateBidRequest(value)
}

export function validateBidRequest(value: unknown): ParseResult {
  const problem = checkRequest(value)
  return problem === undefined ? { ok: true, request: value as BidRequest } : { ok: false, problem }
}

const MALFORMED_JSON: RequestProblem = Object.freeze({ field: 'body', message: 'is not valid JSON' })
const CHANNELS = ['site', 'app', 'dooh'] as const
// Read by decoration as the page's categories (merged with the store's): must be string lists.
const CHANNEL_STRINGS = ['cat', 'pagecat', 'sectioncat'] as const
const REQUEST_FLAGS = ['test', 'allimps'] as const
const REQUEST_STRINGS = ['bcat', 'acat', 'badv', 'bapp', 'wseat', 'bseat', 'wlang', 'wlangb'] as const
const REQUEST_OBJECTS = ['device', 'user', 'regs', 'source', 'ext'] as const
const DEVICE_COUNTS = ['w', 'h', 'ppi'] as const
const REGS_FLAGS = ['gdpr', 'coppa'] as const
const EXT_ONLY = ['ext'] as const

function checkRequest(request: unknown): RequestProblem | undefined {
  if (!isObject(request)) return fail('body', 'must be a JSON object (a BidRequest)')
  if (!isNonEmptyString(request['id'])) return fail('id', REQUIRED_ID)
  return (
    checkImps(request['imp']) ??
    checkScalars(request) ??
    checkChannel(request) ??
    checkListFields(request) ??
    checkParties(request)
  )
}

function checkImps(imps: unknown): RequestProblem | undefined {
  if (!Array.isArray(imps) || imps.length === 0)
    return fail('imp', 'must be a non-empty array of Imp objects')
  for (let i = 0; i < imps.length; i++) {
    const imp = imps[i]
    if (!isObject(imp)) return fail(`imp[${i}]`, MUST_BE_OBJECT)
    if (!isNonEmptyString(imp['id'])) return fail(`imp[${i}].id`, REQUIRED_ID)
    const problem = checkImp(imp)
    if (problem !== undefined) return under(`imp[${i}]`, problem)
  }
  const duplicate = firstDuplicateIndex(imps, 'id')
  if (duplicate >= 0) return fail(`imp[${duplicate}].id`, 'is already used by another imp')
  return undefined
}

/**
 * tmax 0 is read as "no limit given" (the default applies), as several exchanges send it.
 * `at`: 1 first price, 2 second price plus, 3 fixed deal price (2.6), 500+ exchange-specific.
 */
function checkScalars(request: JsonObject): RequestProblem | undefined {
  const tmax = request['tmax']
  if (tmax !== undefined && !isCount(tmax))
    return fail('tmax', 'must be a non-negative integer (milliseconds)')
  const at = request['at']
  if (at !== undefined && !isAuctionType(at))
    return fail('at', 'must be 1, 2, 3 or an exchange-specific 500+')
  const badFlag = firstNotFlag(request, REQUEST_FLAGS)
  if (badFlag !== undefined) return fail(badFlag, MUST_BE_FLAG)
  return undefined
}

function isAuctionType(value: unknown): boolean {
  return value === 1 || value === 2 || value === 3 || (isCount(value) && value >= 500)
}

/** site, app and dooh are each optional (OpenRTB recommends one) and mutually exclusive. */
function checkChannel(request: JsonObject): RequestProblem | undefined {
  let present: string | undefined
  for (let i = 0; i < CHANNELS.length; i++) {
    const key = CHANNELS[i]!
    const channel = request[key]
    if (channel === undefined) continue
    if (!isObject(channel)) return fail(key, MUST_BE_OBJECT)
    if (present !== undefined)
      return fail(key, `must not be sent with ${present}: site, app and dooh exclude each other`)
    present = key
    const ext = channel['ext']
    if (ext !== undefined && !isObject(ext)) return fail(`${key}.ext`, MUST_BE_OBJECT)
    const badStrings = firstNotStrings(channel, CHANNEL_STRINGS)
    if (badStrings !== undefined) return fail(`${key}.${badStrings}`, MUST_BE_STRINGS)
  }
  return undefined
}

function checkListFields(request: JsonObject): RequestProblem | undefined {
  const badStrings = firstNotStrings(request, REQUEST_STRINGS)
  if (badStrings !== undefined) return fail(badStrings, MUST_BE_STRINGS)
  const cur = request['cur']
  if (cur === undefined) return undefined
  if (!Array.isArray(cur)) return fail('cur', 'must be an array of ISO-4217 currency codes')
  for (let i = 0; i < cur.length; i++) if (!isCurrencyCode(cur[i])) return fail(`cur[${i}]`, MUST_BE_CURRENCY)
  return undefined
}

/** device, user, regs, source and ext: objects; the few fields in them whose values we rely on. */
function checkParties(request: JsonObject): RequestProblem | undefined {
  const badObject = firstNotObject(request, REQUEST_OBJECTS)
  if (badObject !== undefined) return fail(badObject, MUST_BE_OBJECT)
  const { device, user, regs, source } = request as Record<string, JsonObject | undefined>
  let problem: RequestProblem | undefined
  if (device !== undefined && (problem = checkDevice(device))) return under('device', problem)
  if (user !== undefined && (problem = checkUser(user))) return under('user', problem)
  if (regs !== undefined && (problem = checkRegs(regs))) return under('regs', problem)
  if (source !== undefined && (problem = checkExt(source))) return under('source', problem)
  return undefined
}

function checkDevice(device: JsonObject): RequestProblem | undefined {
  const badCount = firstNotCount(device, DEVICE_COUNTS)
  if (badCount !== undefined) return fail(`.${badCount}`, MUST_BE_COUNT)
  return checkGeo(device['geo']) ?? checkExt(device)
}

function checkGeo(geo: unknown): RequestProblem | undefined {
  if (geo === undefined) return undefined
  if (!isObject(geo)) return fail('.geo', MUST_BE_OBJECT)
  const accuracy = geo['accuracy']
  if (accuracy !== undefined && !isCount(accuracy)) return fail('.geo.accuracy', MUST_BE_COUNT)
  return undefined
}

/** `consent` is the TCF string: top level in 2.6, in `ext` in 2.5. */
function checkUser(user: JsonObject): RequestProblem | undefined {
  const consent = user['consent']
  if (consent !== undefined && typeof consent !== 'string') return fail('.consent', 'must be a string')
  const problem = checkGeo(user['geo']) ?? checkExt(user)
  if (problem !== undefined) return problem
  const extConsent = (user['ext'] as JsonObject | undefined)?.['consent']
  if (extConsent !== undefined && typeof extConsent !== 'string')
    return fail('.ext.consent', 'must be a string')
  return undefined
}

/** `gdpr` is top level in 2.6 and in `ext` in 2.5. */
function checkRegs(regs: JsonObject): RequestProblem | undefined {
  const badFlag = firstNotFlag(regs, REGS_FLAGS)
  if (badFlag !== undefined) return fail(`.${badFlag}`, MUST_BE_FLAG)
  const problem = checkExt(regs)
  if (problem !== undefined) return problem
  const extGdpr = (regs['ext'] as JsonObject | undefined)?.['gdpr']
  if (extGdpr !== undefined && !isFlag(extGdpr)) return fail('.ext.gdpr', MUST_BE_FLAG)
  return undefined
}

function checkExt(owner: JsonObject): RequestProblem | undefined {
  const badObject = firstNotObject(owner, EXT_ONLY)
  return badObject === undefined ? undefined : fail('.ext', MUST_BE_OBJECT)
}
