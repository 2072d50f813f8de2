import type { DspAdapter, OutboundRequest } from '../dsp-adapter.js'
import { parseBidResponse } from '../openrtb26/openrtb26-adapter.js'

type Obj = Record<string, unknown>

/**
 * For DSPs that read OpenRTB 2.5: the 2.6 request with the fields 2.6 moved out of `ext` mirrored
 * back into their 2.5 places (the 2.6 fields stay, for DSPs that read both). The 2.6 value wins
 * over a stale one already in `ext`. 2.5 and 2.6 BidResponses read the same.
 */
export const openrtb25Adapter: DspAdapter = {
  name: 'openrtb25',
  openrtbVersion: '2.5',
  buildRequest: mirrorTo25,
  parseResponse: parseBidResponse,
}

function mirrorTo25(outbound: OutboundRequest): Obj {
  const out: Obj = { ...outbound }
  const regs = mirrorFields(out['regs'], REGS_FIELDS)
  if (regs !== null) out['regs'] = regs
  const user = mirrorFields(out['user'], USER_FIELDS)
  if (user !== null) out['user'] = user
  const source = mirrorFields(out['source'], SOURCE_FIELDS)
  if (source !== null) out['source'] = source
  const imps = out['imp']
  if (Array.isArray(imps) && imps.some((imp: Obj) => imp['rwdd'] !== undefined)) {
    out['imp'] = imps.map((imp: Obj) => mirrorFields(imp, IMP_FIELDS) ?? imp)
  }
  return out
}

/** [2.6 field, 2.5 ext key] pairs. */
const REGS_FIELDS = [
  ['gdpr', 'gdpr'],
  ['us_privacy', 'us_privacy'],
] as const
const USER_FIELDS = [
  ['consent', 'consent'],
  ['eids', 'eids'],
] as const
const SOURCE_FIELDS = [['schain', 'schain']] as const
const IMP_FIELDS = [['rwdd', 'is_rewarded_inventory']] as const

/** A copy of `value` with each present field also under `ext`; null when there is nothing to mirror. */
function mirrorFields(value: unknown, fields: readonly (readonly [string, string])[]): Obj | null {
  if (typeof value !== 'object' || value === null) return null
  const obj = value as Obj
  let ext: Obj | null = null
  for (const [field, extKey] of fields) {
    if (obj[field] === undefined) continue
    ext ??= { ...(isObject(obj['ext']) ? obj['ext'] : {}) }
    ext[extKey] = obj[field]
  }
  return ext === null ? null : { ...obj, ext }
}

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
