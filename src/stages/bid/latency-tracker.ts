/** Bucket i holds latencies in [BASE·2^(i/4), BASE·2^((i+1)/4)): ~19% wide, 0.25 ms to ~1 s. */
const BASE_MS = 0.25
const BUCKETS_PER_OCTAVE = 4
const BUCKET_COUNT = 48
/** Past this total weight every count is halved: the estimate follows the last ~1000 calls. */
const DECAY_AT_WEIGHT = 1024
/** The cached quantile is recomputed every this many observations. */
const REFRESH_EVERY = 16

export interface LatencyTrackerOptions {
  /** The quantile the deadline check uses, e.g. 0.9. */
  readonly quantile: number
  /** Below this weight the estimate is 0: not enough data to skip a DSP for. */
  readonly minWeight: number
}

/**
 * A DSP's recent latency distribution as a decaying log-bucket histogram: an observation is one
 * log2 and one increment, and the quantile the deadline check reads is cached, so the check itself
 * is a field read. Timed-out calls are observed at the time they were given up (a lower bound).
 */
export class LatencyTracker {
  readonly #counts = new Float64Array(BUCKET_COUNT)
  #weight = 0
  #sinceRefresh = 0
  #estimateMs = 0
  /** performance.now() of the last observation; -Infinity before the first. */
  lastObservedAt = Number.NEGATIVE_INFINITY

  constructor(readonly options: LatencyTrackerOptions) {}

  /** The configured quantile of recent latencies (ms, upper edge of its bucket); 0 while unknown. */
  get estimateMs(): number {
    return this.#estimateMs
  }

  get weight(): number {
    return this.#weight
  }

  observe(latencyMs: number, nowMs: number): void {
    this.lastObservedAt = nowMs
    this.#counts[bucketOf(latencyMs)]! += 1
    this.#weight += 1
    if (this.#weight >= DECAY_AT_WEIGHT) this.#halve()
    if (++this.#sinceRefresh >= REFRESH_EVERY || this.#estimateMs === 0) this.refresh()
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

  #halve(): void {
    const counts = this.#counts
    for (let i = 0; i < BUCKET_COUNT; i++) counts[i]! *= 0.5
    this.#weight *= 0.5
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
