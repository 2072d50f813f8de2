import type { DspConfig } from '../../config/config.js'
import type { DspSkipReason } from '../../metrics/metrics.js'
import type { BidRequest } from '../../openrtb/types.js'

/** Media types as bits, so "does the request offer one the DSP buys" is one AND. */
export const MEDIA_BANNER = 1
export const MEDIA_VIDEO = 2
export const MEDIA_AUDIO = 4
export const MEDIA_NATIVE = 8
const MEDIA_BITS: Readonly<Record<string, number>> = {
  banner: MEDIA_BANNER,
  video: MEDIA_VIDEO,
  audio: MEDIA_AUDIO,
  native: MEDIA_NATIVE,
}

/** Segments of the value model: media (4) × device class (4) × site or app (2). */
export const SEGMENT_COUNT = 32

/**
 * What the shaper needs to know about one request, read once per auction (not once per DSP).
 * One instance is reused for every auction: the shaping of an auction runs synchronously, start to end.
 */
export class RequestProfile {
  mediaMask = 0
  /** `w << 16 | h` of every banner format or size and video player size offered. */
  readonly sizes: number[] = []
  /** `device.geo.country` as sent (ISO 3166-1 alpha-3 in OpenRTB), '' when absent. */
  country = ''
  hasDeals = false
  /** Value-model segment, 0..SEGMENT_COUNT-1. */
  segment = 0

  read(req: BidRequest): this {
    this.mediaMask = 0
    this.sizes.length = 0
    this.hasDeals = false
    for (const imp of req.imp) {
      if (imp.banner !== undefined) {
        this.mediaMask |= MEDIA_BANNER
        this.#addSize(imp.banner.w, imp.banner.h)
        const formats = imp.banner.format
        if (formats !== undefined) for (const f of formats) this.#addSize(f.w, f.h)
      }
      if (imp.video !== undefined) {
        this.mediaMask |= MEDIA_VIDEO
        this.#addSize(imp.video.w, imp.video.h)
      }
      if (imp.audio !== undefined) this.mediaMask |= MEDIA_AUDIO
      if (imp.native !== undefined) this.mediaMask |= MEDIA_NATIVE
      const deals = imp.pmp?.deals
      if (deals !== undefined && deals.length > 0) this.hasDeals = true
    }
    const country = req.device?.geo?.country
    this.country = typeof country === 'string' ? country : ''
    this.segment =
      (mediaSegment(this.mediaMask) * 4 + deviceSegment(req.device?.devicetype)) * 2 + (req.app ? 1 : 0)
    return this
  }

  #addSize(w: number | undefined, h: number | undefined): void {
    if (typeof w === 'number' && typeof h === 'number' && w > 0 && h > 0) this.sizes.push(sizeKey(w, h))
  }
}

export function sizeKey(w: number, h: number): number {
  return ((w & 0xffff) << 16) | (h & 0xffff)
}

/** Video outranks audio, native and banner: the richer format is the one that prices the request. */
function mediaSegment(mask: number): number {
  if (mask & MEDIA_VIDEO) return 1
  if (mask & MEDIA_AUDIO) return 2
  if (mask & MEDIA_NATIVE) return 3
  return 0
}

/** AdCOM device types: 1, 4, 5 mobile; 2 PC; 3, 6, 7 connected TV and devices; else unknown. */
function deviceSegment(type: number | undefined): number {
  switch (type) {
    case 1:
    case 4:
    case 5:
      return 1
    case 2:
      return 2
    case 3:
    case 6:
    case 7:
      return 3
    default:
      return 0
  }
}

/** A DSP's static targeting, compiled once from its config; empty lists mean "no restriction". */
export interface DspTargeting {
  /** 0 = every media type. */
  readonly mediaMask: number
  readonly sizes: ReadonlySet<number> | null
  readonly countries: ReadonlySet<string> | null
  readonly dealsOnly: boolean
}

export function compileTargeting(config: DspConfig): DspTargeting {
  let mediaMask = 0
  for (const m of config.mediaTypes ?? []) mediaMask |= MEDIA_BITS[m] ?? 0
  const formats = config.formats ?? []
  const countries = config.countries ?? []
  return {
    mediaMask,
    sizes: formats.length === 0 ? null : new Set(formats.map(parseSize)),
    countries: countries.length === 0 ? null : new Set(countries),
    dealsOnly: config.dealsOnly ?? false,
  }
}

function parseSize(format: string): number {
  const [w, h] = format.split('x')
  return sizeKey(Number(w), Number(h))
}

/**
 * Static eligibility: the request offers nothing this DSP buys. The whole request goes to the DSPs
 * that take part (serialised once), so a DSP qualifies when any imp matches.
 */
export function staticSkip(t: DspTargeting, p: RequestProfile): DspSkipReason | null {
  if (t.mediaMask !== 0 && (t.mediaMask & p.mediaMask) === 0) return 'media_type'
  if (t.sizes !== null && !hasAny(t.sizes, p.sizes)) return 'format'
  if (t.countries !== null && !t.countries.has(p.country)) return 'country'
  if (t.dealsOnly && !p.hasDeals) return 'deals_only'
  return null
}

function hasAny(set: ReadonlySet<number>, keys: readonly number[]): boolean {
  for (let i = 0; i < keys.length; i++) if (set.has(keys[i]!)) return true
  return false
}
