import { isCurrencyCode } from './currency-codes.js'
import {
  checkCommonMedia,
  fail,
  firstNotCount,
  firstNotFlag,
  firstNotObject,
  firstNotStrings,
  isMimeList,
  isNonEmptyString,
  isNonNegativeNumber,
  isObject,
  type JsonObject,
  MUST_BE_COUNT,
  MUST_BE_CURRENCY,
  MUST_BE_FLAG,
  MUST_BE_FLOOR,
  MUST_BE_MIMES,
  MUST_BE_OBJECT,
  MUST_BE_STRINGS,
  REQUIRED_ID,
  under,
} from './json-checks.js'
import { checkNative } from './validate-native.js'
import type { RequestProblem } from './validate-request.js'

/*
 * Checks of one Imp and its media objects. Each function returns the first problem with a field
 * relative to the object it was given ('' for the object itself, else starting with '.' or '['),
 * and the caller prefixes it, so a path string is built only when something is wrong.
 */

const IMP_FLAGS = ['instl', 'secure'] as const
const IMP_OBJECTS = ['ext'] as const
const MEDIA_OBJECTS = ['banner', 'video', 'audio', 'native'] as const
// Deprecated since 2.5 (wmin/wmax/hmin/hmax) but still sent: accepted, only their sign is checked.
const BANNER_COUNTS = ['w', 'h', 'wmax', 'hmax', 'wmin', 'hmin'] as const
const FORMAT_COUNTS = ['w', 'h', 'wmin', 'wratio', 'hratio'] as const
const VIDEO_COUNTS = ['w', 'h', 'minbitrate', 'maxbitrate', 'minduration', 'maxduration'] as const
const AUDIO_COUNTS = ['sequence', 'maxseq', 'minbitrate', 'maxbitrate', 'minduration', 'maxduration'] as const
const DEAL_STRINGS = ['wseat', 'wadomain'] as const

/** `imp` is an object with a non-empty string id (checked by the caller). */
export function checkImp(imp: JsonObject): RequestProblem | undefined {
  const badObject = firstNotObject(imp, MEDIA_OBJECTS) ?? firstNotObject(imp, IMP_OBJECTS)
  if (badObject !== undefined) return fail(`.${badObject}`, MUST_BE_OBJECT)
  const badFlag = firstNotFlag(imp, IMP_FLAGS)
  if (badFlag !== undefined) return fail(`.${badFlag}`, MUST_BE_FLAG)
  return checkFloor(imp) ?? checkMedia(imp) ?? checkPmp(imp['pmp'])
}

function checkFloor(owner: JsonObject): RequestProblem | undefined {
  const floor = owner['bidfloor']
  if (floor !== undefined && !isNonNegativeNumber(floor)) return fail('.bidfloor', MUST_BE_FLOOR)
  const cur = owner['bidfloorcur']
  if (cur !== undefined && !isCurrencyCode(cur)) return fail('.bidfloorcur', MUST_BE_CURRENCY)
  return undefined
}

function checkMedia(imp: JsonObject): RequestProblem | undefined {
  const { banner, video, audio, native } = imp
  if (banner === undefined && video === undefined && audio === undefined && native === undefined) {
    return fail('', 'must contain at least one of banner, video, audio or native')
  }
  let problem: RequestProblem | undefined
  if (banner !== undefined && (problem = checkBanner(banner as JsonObject, imp['instl'] === 1))) {
    return under('.banner', problem)
  }
  if (video !== undefined && (problem = checkVideo(video as JsonObject))) return under('.video', problem)
  if (audio !== undefined && (problem = checkAudio(audio as JsonObject))) return under('.audio', problem)
  if (native !== undefined && (problem = checkNative(native as JsonObject))) return under('.native', problem)
  return undefined
}

/** Interstitials may leave the size to the device (OpenRTB `instl`; Prebid Server does the same). */
function checkBanner(banner: JsonObject, isInterstitial: boolean): RequestProblem | undefined {
  const badCount = firstNotCount(banner, BANNER_COUNTS)
  if (badCount !== undefined) return fail(`.${badCount}`, MUST_BE_COUNT)
  const formats = banner['format']
  if (formats !== undefined) {
    if (!Array.isArray(formats)) return fail('.format', 'must be an array of Format objects')
    for (let i = 0; i < formats.length; i++) {
      const problem = checkFormat(formats[i])
      if (problem !== undefined) return under(`.format[${i}]`, problem)
    }
  }
  const hasRootSize = (banner['w'] as number) > 0 && (banner['h'] as number) > 0
  if (!hasRootSize && (formats === undefined || formats.length === 0) && !isInterstitial) {
    return fail('', 'has no size: set w and h, or a non-empty format')
  }
  return checkCommonMedia(banner)
}

/** A Format is a fixed size {w, h} or a flexible one {wmin, wratio, hratio}, never both. */
function checkFormat(format: unknown): RequestProblem | undefined {
  if (!isObject(format)) return fail('', MUST_BE_OBJECT)
  const badCount = firstNotCount(format, FORMAT_COUNTS)
  if (badCount !== undefined) return fail(`.${badCount}`, MUST_BE_COUNT)
  const { w, h, wmin, wratio, hratio } = format
  const usesSize = isSet(w) || isSet(h)
  const usesRatio = isSet(wmin) || isSet(wratio) || isSet(hratio)
  if (usesSize && usesRatio) return fail('', 'must set either {w, h} or {wmin, wratio, hratio}, not both')
  if (usesSize) {
    if (!isSet(w)) return fail('.w', 'must be positive')
    if (!isSet(h)) return fail('.h', 'must be positive')
    return undefined
  }
  if (!usesRatio) return fail('', 'must set either {w, h} or {wmin, wratio, hratio}')
  if (!isSet(wmin)) return fail('.wmin', 'must be positive in a flexible size')
  if (!isSet(wratio)) return fail('.wratio', 'must be positive in a flexible size')
  if (!isSet(hratio)) return fail('.hratio', 'must be positive in a flexible size')
  return undefined
}

/** A size field counts as set when it is above 0; 0 and absent both mean "not used". */
function isSet(value: unknown): boolean {
  return (value as number) > 0
}

function checkVideo(video: JsonObject): RequestProblem | undefined {
  if (!isMimeList(video['mimes'])) return fail('.mimes', MUST_BE_MIMES)
  const badCount = firstNotCount(video, VIDEO_COUNTS)
  if (badCount !== undefined) return fail(`.${badCount}`, MUST_BE_COUNT)
  return checkCommonMedia(video)
}

function checkAudio(audio: JsonObject): RequestProblem | undefined {
  if (!isMimeList(audio['mimes'])) return fail('.mimes', MUST_BE_MIMES)
  const badCount = firstNotCount(audio, AUDIO_COUNTS)
  if (badCount !== undefined) return fail(`.${badCount}`, MUST_BE_COUNT)
  return checkCommonMedia(audio)
}

function checkPmp(pmp: unknown): RequestProblem | undefined {
  if (pmp === undefined) return undefined
  if (!isObject(pmp)) return fail('.pmp', MUST_BE_OBJECT)
  const privateAuction = pmp['private_auction']
  if (privateAuction !== undefined && privateAuction !== 0 && privateAuction !== 1) {
    return fail('.pmp.private_auction', MUST_BE_FLAG)
  }
  const deals = pmp['deals']
  if (deals === undefined) return undefined
  if (!Array.isArray(deals)) return fail('.pmp.deals', 'must be an array of Deal objects')
  for (let i = 0; i < deals.length; i++) {
    const problem = checkDeal(deals[i])
    if (problem !== undefined) return under(`.pmp.deals[${i}]`, problem)
  }
  return undefined
}

/** A deal's floor currency does not inherit imp.bidfloorcur (OpenRTB 2.6 §3.2.12), so it is checked on its own. */
function checkDeal(deal: unknown): RequestProblem | undefined {
  if (!isObject(deal)) return fail('', MUST_BE_OBJECT)
  if (!isNonEmptyString(deal['id'])) return fail('.id', REQUIRED_ID)
  const badStrings = firstNotStrings(deal, DEAL_STRINGS)
  if (badStrings !== undefined) return fail(`.${badStrings}`, MUST_BE_STRINGS)
  return checkFloor(deal)
}
