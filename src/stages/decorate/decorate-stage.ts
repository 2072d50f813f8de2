import { NoBidReason } from '../../openrtb/types.js'
import type { AuctionContext, RequestSignals } from '../../pipeline/auction-context.js'
import { EMPTY_LIST } from '../../pipeline/auction-context.js'
import type { Stage, StageResult } from '../../pipeline/stage.js'
import type { DecorationKeys } from '../../store/store.js'
import type { Decoration, Decorator } from './decoration-cache.js'

/** What the store knows about this request (user, page, domain, publisher); null parts are unknown. */
export type StoreFacts = Decoration

export type FactsKeys = DecorationKeys

/** Looks the facts up: synchronously on a full cache hit, else after one store round trip (a Decorator). */
export type FactsSource = Pick<Decorator, 'decorate'>

/**
 * Decorates the auction: store facts (user preferences, page and domain context, publisher floors
 * and blocks) merged with the request's own fields, and the floor in force for each imp.
 * Fail-open: when the store is slow or down, the auction goes on with the request's own data.
 */
export function createDecorateStage(facts: FactsSource | null, currency: string): Stage {
  return {
    name: 'decorate',
    run(ctx) {
      if (!acceptsCurrency(ctx, currency)) return NoBidReason.UnsupportedCurrency
      if (facts === null) return apply(ctx, null, currency)
      const found = facts.decorate(factsKeys(ctx))
      if (found instanceof Promise) return found.then((f) => apply(ctx, f, currency))
      return apply(ctx, found, currency)
    },
  }
}

function acceptsCurrency(ctx: AuctionContext, currency: string): boolean {
  const cur = ctx.request.cur
  return cur === undefined || cur.length === 0 || cur.includes(currency)
}

export function factsKeys(ctx: AuctionContext): FactsKeys {
  const req = ctx.request
  return {
    userId: req.user?.id ?? null,
    domain: req.site?.domain ?? req.app?.domain ?? null,
    pageUrl: req.site?.page ?? null,
    publisherId: req.site?.publisher?.id ?? req.app?.publisher?.id ?? null,
  }
}

function apply(ctx: AuctionContext, facts: StoreFacts | null, currency: string): StageResult {
  const signals = mergeSignals(ctx, facts)
  ctx.signals = signals
  ctx.floors = impFloors(ctx, signals.publisherFloorCpm, currency)
  return undefined
}

function mergeSignals(ctx: AuctionContext, facts: StoreFacts | null): RequestSignals {
  const req = ctx.request
  const site = req.site ?? req.app
  const pageCategories = union(
    union(site?.cat, site?.pagecat),
    union(facts?.pageContext?.categories, facts?.domainContext?.categories),
  )
  const publisher = facts?.publisher ?? null
  return {
    userCategories: facts?.userCategories ?? EMPTY_LIST,
    pageCategories,
    brandUnsafe:
      (facts?.pageContext?.brandSafetyFlags.length ?? 0) > 0 ||
      (facts?.domainContext?.brandSafetyFlags.length ?? 0) > 0,
    publisherFloorCpm: publisher?.floorCpm ?? 0,
    bcat: union(req.bcat, publisher?.bcat),
    badv: union(req.badv, publisher?.badv),
    degraded: facts !== null && (facts.source === 'none' || facts.source === 'partial'),
    frequency: facts?.frequency ?? null,
  }
}

/**
 * Per imp: the higher of the imp's floor and the publisher's. The exchange does not convert
 * currencies, so an imp floored in another currency cannot be priced: -1 marks it unbiddable.
 */
function impFloors(ctx: AuctionContext, publisherFloorCpm: number, currency: string): number[] {
  const imps = ctx.request.imp
  const floors: number[] = new Array(imps.length)
  for (let i = 0; i < imps.length; i++) {
    const imp = imps[i]!
    const floorCur = imp.bidfloorcur ?? 'USD'
    const impFloor = imp.bidfloor ?? 0
    floors[i] = impFloor > 0 && floorCur !== currency ? -1 : Math.max(impFloor, publisherFloorCpm)
  }
  return floors
}

/** Union of two small string lists; returns an input unchanged when the other adds nothing. */
function union(a: readonly string[] | undefined, b: readonly string[] | undefined): readonly string[] {
  if (a === undefined || a.length === 0) return b ?? EMPTY_LIST
  if (b === undefined || b.length === 0) return a
  let out: string[] | null = null
  for (const x of b) {
    if (!a.includes(x) && (out === null || !out.includes(x))) (out ??= [...a]).push(x)
  }
  return out ?? a
}
