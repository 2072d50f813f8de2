import type { Campaign } from './campaign.js'

/** A campaign never pauses completely: a trickle keeps measuring how much traffic it could get. */
export const MIN_RATE = 0.001

/** Fleet-wide delivery as the store reports it (committed on billing notices). */
export interface Delivery {
  readonly spentMicros: number
  readonly daySpentMicros: number
  readonly imps: number
}

/** What the controller remembers between two recomputes. */
export interface PacerState {
  /** Participation rate in [MIN_RATE, 1]: the share of eligible auctions the campaign enters. */
  readonly rate: number
  /** The planned quantity's actual value at the last recompute, and when. */
  readonly lastActual: number
  readonly lastAtMs: number
}

export const INITIAL_PACER: PacerState = Object.freeze({ rate: 1, lastActual: -1, lastAtMs: 0 })

/** The quantity a campaign paces on, over which window. */
export interface PacingPlan {
  readonly target: number
  readonly actual: number
  readonly startMs: number
  readonly endMs: number
}

const DAY_MS = 86_400_000

/**
 * What to pace: the daily budget over today's part of the flight; else the lifetime budget, else
 * the impression goal, over the flight. Null (no pacing, rate 1) for ASAP, or when there is nothing
 * to spread over a known window (no limit, or a lifetime limit with an open end).
 */
export function pacingPlan(c: Campaign, d: Delivery, nowMs: number): PacingPlan | null {
  if (c.pacing === 'ASAP') return null
  if (c.dailyBudgetMicros !== null) {
    const dayStart = nowMs - (nowMs % DAY_MS)
    const startMs = Math.max(dayStart, c.startMs ?? dayStart)
    const endMs = Math.min(dayStart + DAY_MS, c.endMs ?? dayStart + DAY_MS)
    return { target: c.dailyBudgetMicros, actual: d.daySpentMicros, startMs, endMs }
  }
  if (c.endMs === null || c.startMs === null) return null
  if (c.lifetimeBudgetMicros !== null) {
    return { target: c.lifetimeBudgetMicros, actual: d.spentMicros, startMs: c.startMs, endMs: c.endMs }
  }
  if (c.impressionGoal !== null) {
    return { target: c.impressionGoal, actual: d.imps, startMs: c.startMs, endMs: c.endMs }
  }
  return null
}

/** Share of the target the plan wants delivered once `f` of the window has passed. */
export function planShare(mode: Campaign['pacing'], f: number): number {
  const x = Math.min(1, Math.max(0, f))
  return mode === 'FRONTLOADED' ? 1 - (1 - x) * (1 - x) : x
}

/**
 * One recompute of the participation rate (every `intervalMs`). The controller asks: how much must
 * be delivered before the next recompute to be back on plan (`wanted`), and how much does the
 * campaign deliver per ms at full participation (`potential` = observed rate / current rate)? The
 * new rate is their ratio, averaged with the old one to damp the billing-delay lag. With no
 * delivery observed yet it doubles when behind and halves when ahead.
 */
export function nextPacerState(
  c: Campaign,
  d: Delivery,
  prev: PacerState,
  nowMs: number,
  intervalMs: number,
): PacerState {
  const plan = pacingPlan(c, d, nowMs)
  if (plan === null || nowMs >= plan.endMs || nowMs < plan.startMs) {
    return { rate: 1, lastActual: -1, lastAtMs: nowMs }
  }
  const span = plan.endMs - plan.startMs
  const nextF = (nowMs + intervalMs - plan.startMs) / span
  const wanted = plan.target * planShare(c.pacing, nextF) - plan.actual
  const isSameWindow = prev.lastActual >= 0 && prev.lastActual <= plan.actual && nowMs > prev.lastAtMs
  const observedPerMs = isSameWindow ? (plan.actual - prev.lastActual) / (nowMs - prev.lastAtMs) : 0
  let rate: number
  if (wanted <= 0) rate = prev.rate / 2
  else if (observedPerMs <= 0) rate = prev.rate * 2
  else {
    const potentialPerMs = observedPerMs / Math.max(prev.rate, MIN_RATE)
    const wantedPerMs = wanted / intervalMs
    rate = (prev.rate + wantedPerMs / potentialPerMs) / 2
  }
  return { rate: clampRate(rate), lastActual: plan.actual, lastAtMs: nowMs }
}

function clampRate(rate: number): number {
  return Number.isFinite(rate) ? Math.min(1, Math.max(MIN_RATE, rate)) : 1
}
