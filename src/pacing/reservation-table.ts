import type { Reservation } from './campaign-lease.js'

/**
 * Won impressions waiting for their billing notice, by number. Every reservation lives the same
 * TTL, so insertion order is expiry order: expiries are found by walking a queue from its head
 * in a periodic sweep, with no timer per reservation.
 */
export class ReservationTable {
  readonly #pending = new Map<number, Reservation>()
  #queue: Reservation[] = []
  #head = 0

  get size(): number {
    return this.#pending.size
  }

  add(r: Reservation): void {
    this.#pending.set(r.seq, r)
    this.#queue.push(r)
  }

  get(seq: number): Reservation | undefined {
    return this.#pending.get(seq)
  }

  /** Removes and answers the reservation; undefined when it was settled already. */
  take(seq: number): Reservation | undefined {
    const r = this.#pending.get(seq)
    if (r !== undefined) this.#pending.delete(seq)
    return r
  }

  /**
   * Reservations that expired before `cutoffMs` and are still pending, each answered once (the
   * caller settles them, possibly later: they stay in the table until taken).
   */
  expiredBefore(cutoffMs: number): Reservation[] {
    const out: Reservation[] = []
    const queue = this.#queue
    while (this.#head < queue.length && queue[this.#head]!.expiresAtMs < cutoffMs) {
      const r = queue[this.#head++]!
      if (this.#pending.get(r.seq) === r) out.push(r)
    }
    if (this.#head > 1024 && this.#head * 2 > queue.length) {
      this.#queue = queue.slice(this.#head)
      this.#head = 0
    }
    return out
  }

  values(): IterableIterator<Reservation> {
    return this.#pending.values()
  }
}
