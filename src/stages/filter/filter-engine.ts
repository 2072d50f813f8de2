import { extractBits, popcount32, rangeWordMask } from '../../catalog/bitset.js'
import type { CatalogIndex } from '../../catalog/catalog-index.js'
import type { HouseCatalog, HouseCreative } from '../../catalog/house-catalog.js'
import type { BidRequest } from '../../openrtb/types.js'
import type { RequestSignals } from '../../pipeline/auction-context.js'
import type { AdFilter, BitsetTerm, FilterForm } from './ad-filter.js'
import { FilterInput } from './filter-input.js'
import { AD_FILTER_NAMES, type AdFilterName } from './filter-names.js'
import { FilterOrder } from './filter-order.js'
import { createAdFilters } from './rules/create-ad-filters.js'
import { floorCut } from './rules/range-filters.js'

/** Eligible house creatives kept per imp: the best, plus spares in case pacing refuses it. */
export const KEEP_PER_IMP = 3

const FILTER_COUNT = AD_FILTER_NAMES.length
const FORMAT = AD_FILTER_NAMES.indexOf('format')
const FLOOR = AD_FILTER_NAMES.indexOf('floor')
/** Words of a format run a profile counts the bitset terms' rejections over. */
const PROFILE_WORDS = 16
/** Candidates a profile times the predicates over. */
const PROFILE_CANDIDATES = 16
/**
 * Terms and predicates one profile measures, taking turns. A profiled auction pays for them, and
 * one auction in 64 is profiled: terms cost little to profile (no clock), predicates are timed on
 * real candidates, so fewer of them per profile keep a profiled auction within ~1.5 µs of another.
 */
const PROFILE_TERMS = 4
const PROFILE_PREDICATES = 2
/** The no-index baseline profiles this many predicates at a time, on this many candidates. */
const LINEAR_PROFILE_PREDICATES = 8
const LINEAR_PROFILE_CANDIDATES = 32
const RANGE = 0
const TERM = 1
const PREDICATE = 2
const FORM_CODES: Readonly<Record<FilterForm, number>> = { range: RANGE, term: TERM, predicate: PREDICATE }
/**
 * Words the walk takes at once (128 creatives). Measured on the benchmark with the unrolled fill
 * (#fillFullBlock, which is written for exactly 4): 4 beats 2 and 8 (and 8 beat 16 and 32 with
 * the loops); most walks end in their first block or two, so a smaller block wastes less.
 */
const BLOCK_WORDS = 4
const BLOCK_SHIFT = 2

export interface FilterEngineOptions {
  /** false: scan every creative with every filter as a per-candidate check (the no-index baseline). */
  readonly useIndex?: boolean
  /** 'adaptive' (the default) re-orders from profiles; a list of names fixes the order instead. */
  readonly order?: 'adaptive' | readonly AdFilterName[]
  /** Profile one auction in this many; a power of two. */
  readonly sampleEvery?: number
  /** Count first rejections on one auction in this many (scaled up); a power of two. */
  readonly countEvery?: number
  /** Seed of the generator that picks which part of a format run a profile looks at. */
  readonly seed?: number
}

/**
 * Selects, per imp, the best eligible house creatives (up to KEEP_PER_IMP, best first).
 *
 * Indexed path: for each of the imp's formats, walk its run of ordinals (best-paying first, cut at
 * the floor) a block of words at a time. AND the block with the active bitset terms in the current
 * order, request terms first (their result is cached for the auction, so imps sharing a format
 * share it) and the imp's after, stopping when the block is empty; then run the active predicates
 * over the survivors in order, compacting the list so each candidate stops at its first
 * rejection (skipping a predicate that needs a restriction no candidate carries, and candidates
 * that could no longer enter the kept ads). The walk ends once the rest of the run ranks below the
 * KEEP_PER_IMP ads kept.
 * Without the index (the baseline), every creative goes through every filter's predicate form.
 *
 * One auction in `sampleEvery` also profiles a few active filters (in turn) on a window of the
 * imp's run, cost per candidate and share rejected, and re-orders them (FilterOrder). Catalog
 * changes are seen by reference: the next auction rebinds the filters and keeps the statistics.
 */
export class FilterEngine {
  readonly order: FilterOrder
  readonly input = new FilterInput()
  /**
   * Candidates each filter was first to reject, since the last takeRejections(): counted on one
   * auction in countEvery and scaled, since counting bits on every auction would cost more than a
   * tenth of the walk.
   */
  readonly rejected = new Float64Array(FILTER_COUNT)
  readonly #useIndex: boolean
  readonly #sampleMask: number
  readonly #countMask: number
  #catalog: HouseCatalog | null = null
  #ix: CatalogIndex | null = null
  #filters: AdFilter[] = []
  /** Per catalog: which filters prepare per request and per imp, and each one's indexed form. */
  #requestScoped: number[] = []
  #impScoped: number[] = []
  readonly #forms = new Uint8Array(FILTER_COUNT)
  #terms: BitsetTerm[] = []
  readonly #isRequestScoped = new Uint8Array(FILTER_COUNT)
  readonly #active = new Uint8Array(FILTER_COUNT)
  // The current imp's active filters, in order: bitset terms flattened, then predicates.
  readonly #termArrays: Uint32Array[] = []
  readonly #termStart = new Int32Array(FILTER_COUNT + 1)
  readonly #termIsDeny = new Uint8Array(FILTER_COUNT)
  readonly #termOwner = new Int32Array(FILTER_COUNT)
  #termCount = 0
  /** Terms [0, requestTermCount) depend on the request only; the imp's own follow. */
  #requestTermCount = 0
  /**
   * The request terms' AND, per word, for blocks already walked in this auction: imps that share
   * a format reuse it instead of reading the same bitsets again. Valid where blockAuction matches.
   */
  #blockWords = new Int32Array(0)
  #blockAuction = new Int32Array(0)
  readonly #preds: AdFilter[] = []
  readonly #predOwner = new Int32Array(FILTER_COUNT)
  /** Per predicate, the RESTRICTION bit it needs in a candidate to reject it (0: none needed). */
  readonly #predRestriction = new Int32Array(FILTER_COUNT)
  #predCount = 0
  /** Per filter, its AdFilter.restriction (0 when absent). */
  readonly #restrictionOf = new Int32Array(FILTER_COUNT)

  // Scratch.
  readonly #ords = new Int32Array(BLOCK_WORDS * 32)
  readonly #one = new Int32Array(1)
  /** The best ads so far for the imp, sorted by ad rank: creative ordinal, ad, format position. */
  readonly #keptOrd = new Int32Array(KEEP_PER_IMP)
  readonly #keptAd = new Int32Array(KEEP_PER_IMP)
  readonly #keptPos = new Int32Array(KEEP_PER_IMP)
  #keptCount = 0
  readonly #acc = new Int32Array(BLOCK_WORDS)
  readonly #any = new Int32Array(BLOCK_WORDS)
  readonly #profileBase = new Int32Array(PROFILE_WORDS)
  readonly #profileOrds = new Int32Array(PROFILE_CANDIDATES + 32)
  readonly #profileScratch = new Int32Array(PROFILE_CANDIDATES + 32)
  readonly #timerOverheadNs: number
  #auctions = 0
  /** Where the next profile starts in the active filters: each profiles a few, in turn. */
  #profileCursor = 0
  /** On a counting auction, each rejection counts for this many (the auctions it stands for); else 0. */
  #countWeight = 0
  #isProfilePending = false
  #rng: number

  constructor(options: FilterEngineOptions = {}) {
    this.#useIndex = options.useIndex ?? true
    const sampleEvery = options.sampleEvery ?? 64
    if (!(sampleEvery > 0) || (sampleEvery & (sampleEvery - 1)) !== 0)
      throw new Error('sampleEvery must be a power of two')
    this.#sampleMask = sampleEvery - 1
    const countEvery = options.countEvery ?? 256
    if (!(countEvery > 0) || (countEvery & (countEvery - 1)) !== 0)
      throw new Error('countEvery must be a power of two')
    this.#countMask = countEvery - 1
    const fixed = options.order === undefined || options.order === 'adaptive' ? null : options.order
    this.order = new FilterOrder(
      FILTER_COUNT,
      fixed === null ? null : fixed.map((n) => AD_FILTER_NAMES.indexOf(n)),
    )
    this.#rng = (options.seed ?? 0x9e3779b9) | 1
    this.#timerOverheadNs = measureTimerOverheadNs()
    calibrateWordCost()
  }

  /** The filters in the order they run now (range filters first when indexed). */
  currentOrder(): AdFilterName[] {
    return Array.from(this.order.order, (f) => AD_FILTER_NAMES[f]!)
  }

  /** The filters bound to the catalog of the last auction (for explain). */
  get filters(): readonly AdFilter[] {
    return this.#filters
  }

  /** Per imp, the eligible creatives, best first (at most KEEP_PER_IMP); [] for an unbiddable imp. */
  select(
    catalog: HouseCatalog,
    request: BidRequest,
    signals: RequestSignals,
    floors: readonly number[],
    nowMs: number,
  ): HouseCreative[][] {
    if (catalog !== this.#catalog) this.#bind(catalog)
    const ix = this.#ix!
    const x = this.input
    x.beginAuction(ix, request, signals, nowMs)
    // Profiling and counting fall on different auctions, so neither one's auctions carry both costs.
    const n = ++this.#auctions
    this.#countWeight = (n & this.#countMask) === this.#countMask >>> 1 ? this.#countMask + 1 : 0
    this.#isProfilePending = (n & this.#sampleMask) === 0 && this.order.isAdaptive
    this.#prepare(this.#requestScoped)
    this.#assembleRequestTerms()
    const imps = request.imp
    const out: HouseCreative[][] = new Array(imps.length)
    for (let i = 0; i < imps.length; i++) out[i] = this.selectImp(i, request, floors[i] ?? 0)
    return out
  }

  /** One imp; the request must have gone through select() (or beginRequest) first. */
  selectImp(impIndex: number, request: BidRequest, floor: number): HouseCreative[] {
    if (floor < 0 || this.#ix!.creativeCount === 0) return []
    this.input.beginImp(impIndex, request.imp[impIndex]!, floor)
    this.#prepare(this.#impScoped)
    this.#assemble()
    this.#keptCount = 0
    if (this.#useIndex) this.#selectIndexed()
    else this.#selectLinear()
    const kept: HouseCreative[] = new Array(this.#keptCount)
    for (let i = 0; i < this.#keptCount; i++) kept[i] = this.#ix!.creatives[this.#keptOrd[i]!]!
    return kept
  }

  /** Rebinds to a catalog and prepares the request filters, for callers that go imp by imp (explain). */
  beginRequest(catalog: HouseCatalog, request: BidRequest, signals: RequestSignals, nowMs: number): void {
    if (catalog !== this.#catalog) this.#bind(catalog)
    this.input.beginAuction(this.#ix!, request, signals, nowMs)
    this.#countWeight = 0
    this.#isProfilePending = false
    this.#auctions++
    this.#prepare(this.#requestScoped)
    this.#assembleRequestTerms()
  }

  /** Is filter `f` active for the current imp (it can reject something)? */
  isActive(f: number): boolean {
    return this.#active[f] === 1
  }

  /** The filters that would run for the current imp, in the order they would run. */
  runOrder(): number[] {
    const out: number[] = []
    if (this.#useIndex) {
      out.push(FORMAT)
      if (this.#active[FLOOR] === 1) out.push(FLOOR)
      for (let t = 0; t < this.#termCount; t++) out.push(this.#termOwner[t]!)
    }
    for (let p = 0; p < this.#predCount; p++) out.push(this.#predOwner[p]!)
    return out
  }

  /** Does filter `f` accept creative `ord` for the current imp? (Its predicate form, for explain.) */
  accepts(f: number, ord: number): boolean {
    this.#one[0] = ord
    return this.#filters[f]!.keep(this.#one, 1, this.input) === 1
  }

  /** Returns the rejection counts accumulated since the last call and zeroes them. */
  takeRejections(into: Float64Array): void {
    into.set(this.rejected)
    this.rejected.fill(0)
  }

  #bind(catalog: HouseCatalog): void {
    const filters = createAdFilters(catalog.index)
    this.#catalog = catalog
    this.#ix = catalog.index
    this.#filters = filters
    this.#requestScoped = []
    this.#impScoped = []
    const blocks = Math.ceil(catalog.index.wordCount / BLOCK_WORDS)
    this.#blockWords = new Int32Array(blocks * BLOCK_WORDS)
    this.#blockAuction = new Int32Array(blocks).fill(-1)
    filters.forEach((filter, f) => {
      ;(filter.scope === 'request' ? this.#requestScoped : this.#impScoped).push(f)
      this.#isRequestScoped[f] = filter.scope === 'request' ? 1 : 0
      this.#forms[f] = this.#useIndex ? FORM_CODES[filter.form] : PREDICATE
      this.#restrictionOf[f] = filter.restriction ?? 0
    })
    this.#terms = filters.map((filter) => filter.term)
  }

  #prepare(scoped: readonly number[]): void {
    const filters = this.#filters
    const x = this.input
    for (let i = 0; i < scoped.length; i++) {
      const f = scoped[i]!
      this.#active[f] = filters[f]!.prepare(x) ? 1 : 0
    }
  }

  /** Lays out the request's active bitset terms in the current order, once per auction. */
  #assembleRequestTerms(): void {
    const order = this.order.order
    let t = 0
    let j = 0
    for (let i = 0; i < FILTER_COUNT; i++) {
      const f = order[i]!
      if (this.#active[f] === 1 && this.#isRequestScoped[f] === 1 && this.#forms[f] === TERM)
        j = this.#placeTerm(t++, j, f)
    }
    this.#termStart[t] = j
    this.#requestTermCount = t
  }

  /** Adds the imp's own bitset terms after the request's, and lists every active predicate, in order. */
  #assemble(): void {
    const order = this.order.order
    let t = this.#requestTermCount
    let j = this.#termStart[t]!
    let p = 0
    for (let i = 0; i < FILTER_COUNT; i++) {
      const f = order[i]!
      if (this.#active[f] === 0) continue
      const form = this.#forms[f]
      if (form === TERM && this.#isRequestScoped[f] === 0) j = this.#placeTerm(t++, j, f)
      else if (form === PREDICATE) {
        this.#preds[p] = this.#filters[f]!
        this.#predRestriction[p] = this.#restrictionOf[f]!
        this.#predOwner[p++] = f
      }
    }
    this.#termStart[t] = j
    this.#termCount = t
    this.#predCount = p
  }

  #placeTerm(t: number, j: number, f: number): number {
    const term = this.#terms[f]!
    this.#termStart[t] = j
    for (let a = 0; a < term.count; a++) this.#termArrays[j++] = term.arrays[a]!
    this.#termIsDeny[t] = term.isDeny ? 1 : 0
    this.#termOwner[t] = f
    return j
  }

  #selectIndexed(): void {
    const ix = this.#ix!
    const x = this.input
    let profiled = !this.#isProfilePending
    for (let fi = 0; fi < x.formatCount; fi++) {
      const range = ix.formats.get(x.formatKeys[fi]!)
      if (range === undefined) continue
      const cut = floorCut(ix, range.start, range.end, x.floorCpm)
      if (cut <= range.start) {
        this.rejected[FLOOR]! += (range.end - range.start) * this.#countWeight
        continue
      }
      if (!this.#walkRun(range.start, cut, fi)) this.rejected[FLOOR]! += (range.end - cut) * this.#countWeight
      if (!profiled) {
        this.#profileIndexed(range.start, cut)
        profiled = true
      }
    }
    this.#isProfilePending = !profiled // an imp with no run to profile passes it on to the next
  }

  /**
   * Walks [start, end) block by block, best-paying first; true when it stopped early because the
   * rest of the run ranks below the KEEP_PER_IMP ads already kept (for this or an earlier format).
   */
  #walkRun(start: number, end: number, formatPos: number): boolean {
    const acc = this.#acc
    const ords = this.#ords
    const creativeAd = this.#ix!.creativeAd
    const lastWord = (end - 1) >>> 5
    let isCut = false
    for (let w = start >>> 5; w <= lastWord; w = (w | (BLOCK_WORDS - 1)) + 1) {
      if (
        this.#keptCount === KEEP_PER_IMP &&
        creativeAd[Math.max(w << 5, start)]! > this.#keptAd[KEEP_PER_IMP - 1]!
      ) {
        isCut = true
        break
      }
      const count = Math.min((w | (BLOCK_WORDS - 1)) + 1, lastWord + 1) - w
      let live = 0
      let t = 0
      if (this.#countWeight === 0) {
        // Request terms from the auction's cache (filled on first use); counting auctions skip it.
        const block = w >>> BLOCK_SHIFT
        if (this.#blockAuction[block] !== this.#auctions) this.#fillBlock(block)
        const cached = this.#blockWords
        for (let b = 0; b < count; b++) live |= acc[b] = cached[w + b]! & rangeWordMask(w + b, start, end)
        t = this.#requestTermCount
      } else for (let b = 0; b < count; b++) live |= acc[b] = rangeWordMask(w + b, start, end)
      for (; t < this.#termCount && live !== 0; t++) live = this.#applyTerm(t, w, count)
      if (live === 0) continue
      let n = 0
      for (let b = 0; b < count; b++) if (acc[b] !== 0) n = extractBits(acc[b]!, w + b, ords, n)
      this.#checkAndCollect(n, formatPos)
    }
    return isCut
  }

  /**
   * Runs the predicates over a block's candidates, in order, and offers the survivors. Once the imp
   * has KEEP_PER_IMP ads, candidates that could not enter them (ranked below the last kept, or an
   * ad already kept at an earlier format) are dropped first: no predicate needs to see them. A
   * predicate that can only reject ads with some restriction (an allow or block list, key-values,
   * attributes) is skipped when no candidate has it: a block has a handful of candidates, and most
   * ads have none of these, so most such calls are skipped.
   */
  #checkAndCollect(count: number, formatPos: number): void {
    const ords = this.#ords
    let n = count
    if (this.#keptCount === KEEP_PER_IMP && this.#countWeight === 0) n = this.#dropHopeless(n)
    // The restrictions any candidate carries: a filter that needs one none has cannot reject.
    const creativeAd = this.#ix!.creativeAd
    const restrictions = this.#ix!.adRestrictions
    let carried = 0
    for (let i = 0; i < n; i++) carried |= restrictions[creativeAd[ords[i]!]!]!
    for (let p = 0; p < this.#predCount && n > 0; p++) {
      const needs = this.#predRestriction[p]!
      if (needs !== 0 && (carried & needs) === 0) continue
      const before = n
      n = this.#preds[p]!.keep(ords, n, this.input)
      this.rejected[this.#predOwner[p]!]! += (before - n) * this.#countWeight
    }
    for (let i = 0; i < n; i++) this.#collect(ords[i]!, formatPos)
  }

  /** Keeps the candidates of ords[0, n) that rank above the last kept ad and are not kept yet. */
  #dropHopeless(n: number): number {
    const ords = this.#ords
    const creativeAd = this.#ix!.creativeAd
    const keptAd = this.#keptAd
    const last = keptAd[KEEP_PER_IMP - 1]!
    let k = 0
    for (let i = 0; i < n; i++) {
      const o = ords[i]!
      const ad = creativeAd[o]!
      if (ad >= last) continue
      let isKept = false
      for (let j = 0; j < KEEP_PER_IMP - 1; j++) isKept ||= keptAd[j] === ad
      if (!isKept) ords[k++] = o
    }
    return k
  }

  /**
   * ANDs the request's terms over a whole block of words and keeps the result for the auction:
   * imps that share a format reuse it instead of reading the same bitsets again.
   */
  #fillBlock(block: number): void {
    const acc = this.#acc
    const w = block << BLOCK_SHIFT
    const count = Math.min(BLOCK_WORDS, this.#ix!.wordCount - w)
    if (count === BLOCK_WORDS) return this.#fillFullBlock(block, w)
    let live = -1
    for (let b = 0; b < count; b++) acc[b] = -1
    for (let t = 0; t < this.#requestTermCount && live !== 0; t++) live = this.#applyTerm(t, w, count)
    for (let b = 0; b < count; b++) this.#blockWords[w + b] = live === 0 ? 0 : acc[b]!
    this.#blockAuction[block] = this.#auctions
  }

  /**
   * #fillBlock for a whole block (every block but the catalog's last). Unrolled: the block's four
   * words stay in locals (registers) across the terms and each term's bitsets are ORed into four
   * more, instead of a pass over a scratch array per bitset. The fill is the largest part of a
   * walk; in this form it takes about half the time of the loops (#applyTerm).
   */
  #fillFullBlock(block: number, w: number): void {
    const arrays = this.#termArrays
    const starts = this.#termStart
    const isDeny = this.#termIsDeny
    const terms = this.#requestTermCount
    let a0 = -1
    let a1 = -1
    let a2 = -1
    let a3 = -1
    for (let t = 0; t < terms && (a0 | a1 | a2 | a3) !== 0; t++) {
      const end = starts[t + 1]!
      let j = starts[t]!
      let words = arrays[j]!
      let o0 = words[w]!
      let o1 = words[w + 1]!
      let o2 = words[w + 2]!
      let o3 = words[w + 3]!
      for (j++; j < end; j++) {
        words = arrays[j]!
        o0 |= words[w]!
        o1 |= words[w + 1]!
        o2 |= words[w + 2]!
        o3 |= words[w + 3]!
      }
      if (isDeny[t] === 1) {
        a0 &= ~o0
        a1 &= ~o1
        a2 &= ~o2
        a3 &= ~o3
      } else {
        a0 &= o0
        a1 &= o1
        a2 &= o2
        a3 &= o3
      }
    }
    const out = this.#blockWords
    out[w] = a0
    out[w + 1] = a1
    out[w + 2] = a2
    out[w + 3] = a3
    this.#blockAuction[block] = this.#auctions
  }

  /**
   * ANDs term `t` into the block's words [w, w + count) (term-major: one bitset at a time, so each
   * inner loop is a straight run over one typed array); counts what it removes; returns the OR of
   * what is left, zero when the block is empty.
   */
  #applyTerm(t: number, w: number, count: number): number {
    if (this.#countWeight !== 0) return this.#applyTermCounting(t, w, count)
    const acc = this.#acc
    const arrays = this.#termArrays
    const from = this.#termStart[t]!
    const to = this.#termStart[t + 1]!
    const isDeny = this.#termIsDeny[t] === 1
    let live = 0
    if (to - from === 1) {
      const words = arrays[from]!
      if (isDeny) {
        for (let b = 0; b < count; b++) live |= acc[b] = acc[b]! & ~words[w + b]!
      } else for (let b = 0; b < count; b++) live |= acc[b] = acc[b]! & words[w + b]!
      return live
    }
    const any = this.#orTerm(from, to, w, count)
    if (isDeny) {
      for (let b = 0; b < count; b++) live |= acc[b] = acc[b]! & ~any[b]!
    } else for (let b = 0; b < count; b++) live |= acc[b] = acc[b]! & any[b]!
    return live
  }

  /** The OR of bitsets [from, to) of the term list over words [w, w + count), in a scratch array. */
  #orTerm(from: number, to: number, w: number, count: number): Int32Array {
    const any = this.#any
    const arrays = this.#termArrays
    const first = arrays[from]!
    for (let b = 0; b < count; b++) any[b] = first[w + b]!
    for (let j = from + 1; j < to; j++) {
      const words = arrays[j]!
      for (let b = 0; b < count; b++) any[b]! |= words[w + b]!
    }
    return any
  }

  /** As #applyTerm, counting the candidates the term removes (sampled auctions only). */
  #applyTermCounting(t: number, w: number, count: number): number {
    const acc = this.#acc
    const any = this.#orTerm(this.#termStart[t]!, this.#termStart[t + 1]!, w, count)
    const isDeny = this.#termIsDeny[t] === 1
    let live = 0
    let removed = 0
    for (let b = 0; b < count; b++) {
      const before = acc[b]!
      const after = isDeny ? before & ~any[b]! : before & any[b]!
      removed += popcount32(before ^ after)
      acc[b] = after
      live |= after
    }
    this.rejected[this.#termOwner[t]!]! += removed * this.#countWeight
    return live
  }

  /** The no-index baseline: every creative in rank order, every active filter as a predicate. */
  #selectLinear(): void {
    const ix = this.#ix!
    const byRank = ix.byRank
    const ords = this.#ords
    const total = byRank.length
    for (let from = 0; from < total; from += 32) {
      const to = Math.min(from + 32, total)
      let n = 0
      for (let i = from; i < to; i++) ords[n++] = byRank[i]!
      for (let p = 0; p < this.#predCount && n > 0; p++) {
        const before = n
        n = this.#preds[p]!.keep(ords, n, this.input)
        this.rejected[this.#predOwner[p]!]! += (before - n) * this.#countWeight
      }
      for (let i = 0; i < n; i++) this.#collectLinear(ords[i]!)
      if (
        this.#keptCount === KEEP_PER_IMP &&
        ix.creativeAd[byRank[to - 1]!]! > this.#keptAd[KEEP_PER_IMP - 1]!
      )
        break
    }
    if (this.#isProfilePending) {
      this.#profileLinear()
      this.#isProfilePending = false
    }
  }

  /**
   * Offers a creative: kept when its ad is not kept yet and ranks among the best KEEP_PER_IMP so
   * far (the list stays sorted by ad rank, i.e. price then id).
   */
  #collect(ord: number, formatPos: number): void {
    const ad = this.#ix!.creativeAd[ord]!
    const keptAd = this.#keptAd
    let n = this.#keptCount
    if (n === KEEP_PER_IMP && ad >= keptAd[n - 1]!) return
    for (let i = 0; i < n; i++) if (keptAd[i] === ad) return
    if (n < KEEP_PER_IMP) this.#keptCount = ++n
    let i = n - 1
    for (; i > 0 && keptAd[i - 1]! > ad; i--) {
      keptAd[i] = keptAd[i - 1]!
      this.#keptOrd[i] = this.#keptOrd[i - 1]!
      this.#keptPos[i] = this.#keptPos[i - 1]!
    }
    keptAd[i] = ad
    this.#keptOrd[i] = ord
    this.#keptPos[i] = formatPos
  }

  /**
   * The scan sees ads in rank order, each ad's creatives together: it keeps the first
   * KEEP_PER_IMP ads, each at the imp's earliest format it fits (as the indexed walk does).
   */
  #collectLinear(ord: number): void {
    const ix = this.#ix!
    const ad = ix.creativeAd[ord]!
    const pos = this.input.formatPosition(ix.creativeMedia[ord]!, ix.creativeW[ord]!, ix.creativeH[ord]!)
    for (let i = 0; i < this.#keptCount; i++) {
      if (this.#keptAd[i] !== ad) continue
      if (pos < this.#keptPos[i]!) {
        this.#keptOrd[i] = ord
        this.#keptPos[i] = pos
      }
      return
    }
    this.#collect(ord, pos)
  }

  /** Times each active term over a window of the run and each predicate over its candidates. */
  #profileIndexed(start: number, end: number): void {
    const firstWord = start >>> 5
    const words = ((end - 1) >>> 5) - firstWord + 1
    const span = Math.min(words, PROFILE_WORDS)
    const w0 = firstWord + (this.#nextRandom() % (words - span + 1))
    const base = this.#profileBase
    let inBits = 0
    for (let i = 0; i < span; i++) {
      base[i] = rangeWordMask(w0 + i, start, end)
      inBits += popcount32(base[i]!)
    }
    if (inBits === 0) return
    const from = this.#profileCursor++
    for (let i = 0; i < Math.min(PROFILE_TERMS, this.#termCount); i++) {
      this.#profileTerm((from + i) % this.#termCount, w0, span, inBits)
    }
    let n = 0
    // A word at a time (up to 32 bits) while short of PROFILE_CANDIDATES: the buffer holds one more word.
    for (let i = 0; i < span && n < PROFILE_CANDIDATES; i++)
      n = extractBits(base[i]!, w0 + i, this.#profileOrds, n)
    n = Math.min(n, PROFILE_CANDIDATES)
    for (let i = 0; i < Math.min(PROFILE_PREDICATES, this.#predCount); i++) {
      this.#profilePredicate((from + i) % this.#predCount, n)
    }
    this.order.reorder()
  }

  /**
   * A term's share of rejections is counted on the window; its cost is its work, not a clock
   * reading: one pass over the words per bitset it ORs plus one to apply it, at the calibrated
   * cost of a word (a term over a window takes about as long as reading the clock once, so timing
   * it would measure the timer).
   */
  #profileTerm(t: number, w0: number, span: number, inBits: number): void {
    const base = this.#profileBase
    const arrays = this.#termArrays
    const from = this.#termStart[t]!
    const to = this.#termStart[t + 1]!
    const isDeny = this.#termIsDeny[t] === 1
    let outBits = 0
    for (let i = 0; i < span; i++) {
      let any = 0
      for (let j = from; j < to; j++) any |= arrays[j]![w0 + i]!
      outBits += popcount32(isDeny ? base[i]! & ~any : base[i]! & any)
    }
    const wordsRead = (to - from + 1) * span
    this.order.record(this.#termOwner[t]!, (wordsRead * wordCostNs) / inBits, 1 - outBits / inBits)
  }

  #profilePredicate(p: number, n: number): void {
    if (n === 0) return
    const scratch = this.#profileScratch
    const ords = this.#profileOrds
    for (let i = 0; i < n; i++) scratch[i] = ords[i]!
    const startedAt = performance.now()
    const kept = this.#preds[p]!.keep(scratch, n, this.input)
    const elapsedNs = (performance.now() - startedAt) * 1e6 - this.#timerOverheadNs
    this.order.record(this.#predOwner[p]!, elapsedNs / n, 1 - kept / n)
  }

  /** The baseline profiles on a window of the rank order, every filter as a predicate. */
  #profileLinear(): void {
    const byRank = this.#ix!.byRank
    const n = Math.min(LINEAR_PROFILE_CANDIDATES, byRank.length)
    if (n === 0) return
    const from = this.#nextRandom() % (byRank.length - n + 1)
    for (let i = 0; i < n; i++) this.#profileOrds[i] = byRank[from + i]!
    const first = this.#profileCursor++
    for (let i = 0; i < Math.min(LINEAR_PROFILE_PREDICATES, this.#predCount); i++) {
      this.#profilePredicate((first + i) % this.#predCount, n)
    }
    this.order.reorder()
  }

  /** xorshift32: cheap, and seeded so profiles are reproducible in tests. */
  #nextRandom(): number {
    let s = this.#rng
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    this.#rng = s
    return s >>> 0
  }
}

/** The cost of reading the clock around nothing, taken off every timing (median of a few tries). */
function measureTimerOverheadNs(): number {
  const tries: number[] = []
  for (let i = 0; i < 101; i++) {
    const startedAt = performance.now()
    tries.push((performance.now() - startedAt) * 1e6)
  }
  return tries.sort((a, b) => a - b)[50]!
}

/** Nanoseconds to OR one bitset word into a block: measured once per process, at the first engine. */
let wordCostNs = 0

function calibrateWordCost(): void {
  if (wordCostNs > 0) return
  const words = new Int32Array(4096).fill(0x5555)
  const acc = new Int32Array(16)
  const rounds = 50
  const startedAt = performance.now()
  for (let r = 0; r < rounds; r++) {
    for (let w = 0; w < words.length; w += 16) {
      for (let b = 0; b < 16; b++) acc[b]! |= words[w + b]!
    }
  }
  wordCostNs = Math.max(((performance.now() - startedAt) * 1e6) / (rounds * words.length), 0.05)
}
