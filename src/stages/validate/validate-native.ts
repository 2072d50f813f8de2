import {
  checkCommonMedia,
  fail,
  firstDuplicateIndex,
  firstNotCount,
  isCount,
  isMimeList,
  isObject,
  type JsonObject,
  MUST_BE_COUNT,
  MUST_BE_INTS,
  MUST_BE_MIMES,
  MUST_BE_OBJECT,
  under,
} from './json-checks.js'
import type { RequestProblem } from './validate-request.js'

/*
 * The Native object of an imp and the Native 1.2 request it carries (OpenRTB Native Ads 1.2 §4,
 * enumerations in §7). Fields are relative to the Native object, as in validate-imp.ts.
 */

const IMG_COUNTS = ['w', 'h', 'wmin', 'hmin'] as const
const NATIVE_VIDEO_COUNTS = ['minduration', 'maxduration'] as const
const EXCHANGE_SPECIFIC = 500
const MUST_BE_NATIVE_JSON = 'must be a Native request object, or a string holding one as JSON'

/** `native` is an object (checked by the caller). */
export function checkNative(native: JsonObject): RequestProblem | undefined {
  const request = native['request']
  if (request === undefined) return fail('.request', 'is required')
  let parsed: unknown = request
  if (typeof request === 'string') {
    try {
      parsed = JSON.parse(request)
    } catch {
      return fail('.request', MUST_BE_NATIVE_JSON)
    }
  }
  if (!isObject(parsed)) return fail('.request', MUST_BE_NATIVE_JSON)
  const problem = checkNativeRequest(parsed)
  if (problem !== undefined) return under('.request', problem)
  return checkCommonMedia(native)
}

/** Native 1.0 wrapped the request in a `native` key; 1.1 and later send it bare. Both are accepted. */
function checkNativeRequest(request: JsonObject): RequestProblem | undefined {
  const inner = request['native']
  if (isObject(inner) && request['assets'] === undefined) {
    const problem = checkNativeBody(inner)
    return problem === undefined ? undefined : under('.native', problem)
  }
  return checkNativeBody(request)
}

function checkNativeBody(body: JsonObject): RequestProblem | undefined {
  return checkPlacement(body) ?? checkAssets(body['assets']) ?? checkEventTrackers(body['eventtrackers'])
}

/**
 * context 1-3, contextsubtype 10-15 / 20-22 / 30-32 matching context 1 / 2 / 3, plcmttype 1-4;
 * 500+ is exchange-specific for all three. 0 is read as "not set", as Prebid Server does.
 */
function checkPlacement(body: JsonObject): RequestProblem | undefined {
  const context = body['context'] ?? 0
  if (!isCount(context) || !inRangeOrExchange(context, 0, 3)) return fail('.context', 'must be 1-3 or 500+')
  const subtype = body['contextsubtype'] ?? 0
  if (!isCount(subtype)) return fail('.contextsubtype', MUST_BE_COUNT)
  if (!subtypeMatches(subtype, context)) {
    return fail('.contextsubtype', 'must be 10-15, 20-22 or 30-32 matching context 1, 2 or 3, or 500+')
  }
  const placement = body['plcmttype'] ?? 0
  if (!isCount(placement) || !inRangeOrExchange(placement, 0, 4))
    return fail('.plcmttype', 'must be 1-4 or 500+')
  return undefined
}

function subtypeMatches(subtype: number, context: number): boolean {
  if (subtype === 0 || subtype >= EXCHANGE_SPECIFIC) return true
  if (subtype >= 10 && subtype <= 15) return context === 1
  if (subtype >= 20 && subtype <= 22) return context === 2
  if (subtype >= 30 && subtype <= 32) return context === 3
  return false
}

function inRangeOrExchange(value: number, min: number, max: number): boolean {
  return (value >= min && value <= max) || value >= EXCHANGE_SPECIFIC
}

function checkAssets(assets: unknown): RequestProblem | undefined {
  if (!Array.isArray(assets) || assets.length === 0)
    return fail('.assets', 'must be a non-empty array of assets')
  for (let i = 0; i < assets.length; i++) {
    const problem = checkAsset(assets[i])
    if (problem !== undefined) return under(`.assets[${i}]`, problem)
  }
  // Ids may all be left out (the bidder numbers them), but once any is given they must be unique.
  const duplicate = hasAnyAssetId(assets) ? firstDuplicateIndex(assets, 'id') : -1
  if (duplicate >= 0) return fail(`.assets[${duplicate}].id`, 'is already used by another asset')
  return undefined
}

function hasAnyAssetId(assets: readonly unknown[]): boolean {
  for (let i = 0; i < assets.length; i++) if (((assets[i] as JsonObject)['id'] ?? 0) !== 0) return true
  return false
}

function checkAsset(asset: unknown): RequestProblem | undefined {
  if (!isObject(asset)) return fail('', MUST_BE_OBJECT)
  const id = asset['id']
  if (id !== undefined && !isCount(id)) return fail('.id', MUST_BE_COUNT)
  const { title, img, video, data } = asset
  const kinds = +(title !== undefined) + +(img !== undefined) + +(video !== undefined) + +(data !== undefined)
  if (kinds !== 1) return fail('', 'must contain exactly one of title, img, video or data')
  if (title !== undefined) return subObject('.title', title, checkTitle)
  if (img !== undefined) return subObject('.img', img, checkImage)
  if (video !== undefined) return subObject('.video', video, checkNativeVideo)
  return subObject('.data', data, checkData)
}

/** Runs `check` (a module-level function, so no closure per call) on an object-typed field. */
function subObject(
  field: string,
  value: unknown,
  check: (value: JsonObject) => RequestProblem | undefined,
): RequestProblem | undefined {
  if (!isObject(value)) return fail(field, MUST_BE_OBJECT)
  const problem = check(value)
  return problem === undefined ? undefined : under(field, problem)
}

function checkTitle(title: JsonObject): RequestProblem | undefined {
  const len = title['len']
  return isCount(len) && len > 0 ? undefined : fail('.len', 'must be a positive integer')
}

function checkImage(img: JsonObject): RequestProblem | undefined {
  const badCount = firstNotCount(img, IMG_COUNTS)
  return badCount === undefined ? undefined : fail(`.${badCount}`, MUST_BE_COUNT)
}

/**
 * Protocols are the AdCOM audio/video creative subtypes 1-16: the Native 1.2 text points at the
 * OpenRTB 2.5 list (1-10), but 2.6 adds VAST 4.1-4.3 (11-16), which native video may carry.
 */
function checkNativeVideo(video: JsonObject): RequestProblem | undefined {
  if (!isMimeList(video['mimes'])) return fail('.mimes', MUST_BE_MIMES)
  const badCount = firstNotCount(video, NATIVE_VIDEO_COUNTS)
  if (badCount !== undefined) return fail(`.${badCount}`, MUST_BE_COUNT)
  const protocols = video['protocols']
  if (protocols === undefined) return undefined
  if (!Array.isArray(protocols)) return fail('.protocols', MUST_BE_INTS)
  for (let i = 0; i < protocols.length; i++) {
    const protocol = protocols[i]
    if (!isCount(protocol) || protocol < 1 || protocol > 16) return fail(`.protocols[${i}]`, 'must be 1-16')
  }
  return undefined
}

function checkData(data: JsonObject): RequestProblem | undefined {
  const type = data['type']
  if (!isCount(type) || !inRangeOrExchange(type, 1, 12)) return fail('.type', 'must be 1-12 or 500+')
  return undefined
}

function checkEventTrackers(trackers: unknown): RequestProblem | undefined {
  if (trackers === undefined) return undefined
  if (!Array.isArray(trackers)) return fail('.eventtrackers', 'must be an array of event trackers')
  for (let i = 0; i < trackers.length; i++) {
    const problem = checkEventTracker(trackers[i])
    if (problem !== undefined) return under(`.eventtrackers[${i}]`, problem)
  }
  return undefined
}

/** event: 1-4 (impression, viewable MRC 50 / 100, viewable video 50); methods: 1 img, 2 js; 500+ for both. */
function checkEventTracker(tracker: unknown): RequestProblem | undefined {
  if (!isObject(tracker)) return fail('', MUST_BE_OBJECT)
  const event = tracker['event']
  if (!isCount(event) || !inRangeOrExchange(event, 1, 4)) return fail('.event', 'must be 1-4 or 500+')
  const methods = tracker['methods']
  if (!Array.isArray(methods) || methods.length === 0) return fail('.methods', 'must be a non-empty array')
  for (let i = 0; i < methods.length; i++) {
    const method = methods[i]
    if (!isCount(method) || !inRangeOrExchange(method, 1, 2))
      return fail(`.methods[${i}]`, 'must be 1, 2 or 500+')
  }
  return undefined
}
