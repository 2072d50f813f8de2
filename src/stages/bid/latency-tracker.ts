/** Bucket i holds latencies in [BASE·2^(i/4), BASE·2^((i+1)/4)): ~19% wide, 0.25 ms to ~1 s. */
const BASE_MS = 0.25
const BUCKETS_PER_OCTAVE = 4
const BUCKET_COUNT = 48
/** The cached quantile is recomputed every this many observations (and at each decay). */
const REFRESH_EVERY = 16

export interface LatencyTrackerOptions {
  /** The quantile the deadline check uses, e.g. 0.9. */
  readonly quantile: number
  /** Below this (decayed) weight the estimate is 0: too little recent data to skip a DSP for. */
  readonly minWeight: number
  /** Observations lose half their weight every this many ms (applied at each control tick). */
  readonly halfLifeMs: number
}

/**
 * A DSP's recent answer times as a decaying log-bucket histogram: an observation is one log2 and
 * one increment, and the quantile the deadline check reads is cached, so the check itself is a field
 * read. Counts decay with time, so the estimate follows the last few seconds and, when a DSP stops
 * being called, falls back to "unknown" (the DSP is called again) instead of freezing.
 */
export class LatencyTracker {
  readonly #counts = new Float64Array(BUCKET_COUNT)
  #weight = 0
  #sinceRefresh = 0
  #estimateMs = 0

  constructor(readonly options: LatencyTrackerOptions) {}

  /** The configured quantile of recent latencies (ms, upper edge of its bucket); 0 while unknown. */
  get estimateMs(): number {
    return this.#estimateMs
  }

  get weight(): number {
    return this.#weight
  }

  observe(latencyMs: number): void {
    this.#counts[bucketOf(latencyMs)]! += 1
    this.#weight += 1
    if (++this.#sinceRefresh >= REFRESH_EVERY || this.#estimateMs === 0) this.refresh()
  }

  /** Ages every observation by `elapsedMs`. */
  decay(elapsedMs: number): void {
    const factor = 0.5 ** (elapsedMs / this.options.halfLifeMs)
    const counts = this.#counts
    for (let i = 0; i < BUCKET_COUNT; i++) counts[i]! *= factor
    this.#weight *= factor
    this.refresh()
  }

  /** Recomputes the cached quantile. */
  refresh(): void {
    this.#sinceRefresh = 0
    this.#estimateMs = this.#weight < this.options.minWeight ? 0 : this.quantileMs(this.options.quantile)
  }

  /** Upper edge of the bucket holding quantile `q` (0..1) of the recorded weight; 0 when empty. */
  quantileMs(q: number): number {
    if (this.#weight === 0) return 0
    const target = q * this.#weight
    let seen = 0
    for (let i = 0; i < BUCKET_COUNT; i++) {
      seen += this.#counts[i]!
      if (seen >= target) return upperEdgeMs(i)
    }
    return upperEdgeMs(BUCKET_COUNT - 1)
  }
}

function bucketOf(latencyMs: number): number {
  if (!(latencyMs > BASE_MS)) return 0
  const i = Math.floor(Math.log2(latencyMs / BASE_MS) * BUCKETS_PER_OCTAVE)
  return i < BUCKET_COUNT ? i : BUCKET_COUNT - 1
}

function upperEdgeMs(bucket: number): number {
  return BASE_MS * 2 ** ((bucket + 1) / BUCKETS_PER_OCTAVE)
}
