import { SEGMENT_COUNT } from './request-profile.js'

export interface ValueModelOptions {
  /** Beta prior of the bid rate: `priorBids` bids in `priorCalls` calls. */
  readonly priorBids: number
  readonly priorCalls: number
  /** Counts are halved every this many seconds: the model follows the DSP's recent behaviour. */
  readonly halfLifeS: number
  /** The threshold aims at this many value-stage passes per allowed call (the bucket trims the rest). */
  readonly targetHeadroom: number
  /** Gain of the threshold controller, and the largest log-step it takes per tick. */
  readonly gain: number
  readonly maxLogStep: number
  /** Thresholds below this are 0: no value filtering. */
  readonly minThreshold: number
}

/**
 * Which calls are worth a DSP's capped QPS. Per segment of the traffic it keeps decayed counts of
 * calls, bids and bid CPM, so `value = P̂(bid) · Ê[CPM | bid]` with a Beta prior (cold segments
 * look average, not worthless). Values are kept relative to the DSP's call-weighted average value
 * (1 = average) and recomputed once per control tick, so the per-call check is an array read and a
 * compare, and the threshold does not chase the drift of absolute values.
 *
 * The threshold only rises while calls that pass it would exceed the DSP's QPS share (OpenX-style
 * feedback: `τ ← τ·exp(gain·(q̂ − Q)/Q)`); below it calls are thinned with probability
 * `(value/τ)²` rather than cut, so a single dominant segment does not make admission flap between
 * all and nothing. Calls that the score turns away are still sent with the exploration probability,
 * so the model keeps learning what it filters.
 */
export class ValueModel {
  readonly #calls = new Float64Array(SEGMENT_COUNT)
  readonly #bids = new Float64Array(SEGMENT_COUNT)
  readonly #cpmSum = new Float64Array(SEGMENT_COUNT)
  readonly values = new Float64Array(SEGMENT_COUNT)
  threshold = 0
  /** Calls that passed the value check (exploration excluded) since the last tick. */
  #passes = 0

  constructor(
    readonly options: ValueModelOptions,
    readonly explorationRate: number,
  ) {
    this.#recomputeValues()
  }

  /** 'pass', 'explore' (sent although the score says no) or 'skip'; `random` is uniform in [0, 1). */
  decide(segment: number, random: () => number): 'pass' | 'explore' | 'skip' {
    this.#passes++
    const tau = this.threshold
    if (tau === 0) return 'pass'
    const ratio = this.values[segment]! / tau
    if (ratio >= 1) return 'pass'
    const draw = random()
    if (draw < ratio * ratio) return 'pass'
    this.#passes--
    return draw >= 1 - this.explorationRate ? 'explore' : 'skip'
  }

  onSent(segment: number): void {
    this.#calls[segment]! += 1
  }

  /** A settled call: `bidCpm` is its best bid's price, or 0 for no bid / failure. */
  onResult(segment: number, bidCpm: number): void {
    if (bidCpm <= 0) return
    this.#bids[segment]! += 1
    this.#cpmSum[segment]! += bidCpm
  }

  /**
   * Once per control tick of `tickS` seconds: decay the counts, refresh the values and steer the
   * threshold toward `allowedQps` passes per second (0 = uncapped: no filtering).
   */
  tick(tickS: number, allowedQps: number): void {
    const decay = 0.5 ** (tickS / this.options.halfLifeS)
    for (let s = 0; s < SEGMENT_COUNT; s++) {
      this.#calls[s]! *= decay
      this.#bids[s]! *= decay
      this.#cpmSum[s]! *= decay
    }
    this.#recomputeValues()
    const passesPerS = this.#passes / tickS
    this.#passes = 0
    this.#steer(passesPerS, allowedQps)
  }

  #steer(passesPerS: number, allowedQps: number): void {
    const o = this.options
    if (allowedQps <= 0) {
      this.threshold = 0
      return
    }
    const target = allowedQps * o.targetHeadroom
    const step = Math.max(-o.maxLogStep, Math.min(o.maxLogStep, (o.gain * (passesPerS - target)) / target))
    if (this.threshold === 0) {
      // Start filtering at the lowest value seen: the first steps then thin the worst segments.
      if (step > 0) this.threshold = Math.max(o.minThreshold, this.#lowestSeenValue())
      return
    }
    this.threshold *= Math.exp(step)
    if (this.threshold < o.minThreshold) this.threshold = 0
  }

  #lowestSeenValue(): number {
    let lowest = 1
    for (let s = 0; s < SEGMENT_COUNT; s++) {
      if (this.#calls[s]! > 0 && this.values[s]! < lowest) lowest = this.values[s]!
    }
    return lowest
  }

  #recomputeValues(): void {
    const o = this.options
    let allBids = 0
    let allCpm = 0
    let allCalls = 0
    for (let s = 0; s < SEGMENT_COUNT; s++) {
      allBids += this.#bids[s]!
      allCpm += this.#cpmSum[s]!
      allCalls += this.#calls[s]!
    }
    // The prior price of a segment is the DSP's average bid, so a new segment is neither best nor worst.
    const priorCpm = allBids > 0 ? allCpm / allBids : 1
    let weighted = 0
    for (let s = 0; s < SEGMENT_COUNT; s++) {
      const bids = this.#bids[s]!
      const bidRate = (o.priorBids + bids) / (o.priorCalls + Math.max(this.#calls[s]!, bids))
      const cpm = (this.#cpmSum[s]! + priorCpm) / (bids + 1)
      this.values[s] = bidRate * cpm
      weighted += this.values[s]! * this.#calls[s]!
    }
    const average = allCalls > 0 ? weighted / allCalls : 0
    if (average > 0) for (let s = 0; s < SEGMENT_COUNT; s++) this.values[s]! /= average
  }
}
