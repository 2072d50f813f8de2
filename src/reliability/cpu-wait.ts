import { closeSync, openSync, readSync } from 'node:fs'

/**
 * The kernel's scheduler counters of a few threads, read on demand: time on a CPU, time runnable
 * but waiting for one (the run queue), from `/proc/<pid>/task/<tid>/schedstat`, and major page
 * faults (the thread blocked reading a page back from disk), from `…/stat`. Each read is one
 * pread of a procfs file kept open (~1–3 µs), so the fault suite can take one when a request is
 * sent and another when its answer is read, and tell how much of an answer's lateness the machine
 * caused: on a shared machine (CI, a laptop running benchmarks) a process can be runnable and not
 * run for 100 ms and more while other processes hold the cores.
 *
 * What a difference of two reads means: the kernel adds a run-queue wait to the counter when the
 * wait ends (the thread gets a CPU). For a thread that was running at both reads (the reader's
 * own thread), the difference is exactly what happened in between; for another thread it is the
 * waits that ended in between, the first of which may have begun before the first read.
 */
export class ThreadClocks {
  readonly #files: { schedstat: number; stat: number | null }[]
  readonly #buffer = Buffer.alloc(1024)
  /** The last values read, kept for a thread that has exited. */
  readonly #last: Float64Array

  /**
   * `threads`: `[pid, tid]` pairs (tid = pid for a process's main thread); the major faults of
   * only the first `faultsOf` are read (0 for the others), a pread less for each of the rest.
   */
  constructor(threads: readonly (readonly [number, number])[], faultsOf = threads.length) {
    this.#files = threads.map(([pid, tid], i) => ({
      schedstat: openSync(`/proc/${pid}/task/${tid}/schedstat`, 'r'),
      stat: i < faultsOf ? openSync(`/proc/${pid}/task/${tid}/stat`, 'r') : null,
    }))
    this.#last = new Float64Array(threads.length * FIELDS)
  }

  /**
   * Now, for thread i: `[i*3]` ms on a CPU, `[i*3+1]` ms waiting for one, `[i*3+2]` major faults
   * (cumulative since the thread started).
   */
  read(): Float64Array {
    const out = new Float64Array(this.#last.length)
    for (let i = 0; i < this.#files.length; i++) {
      const files = this.#files[i]!
      const at = i * FIELDS
      try {
        const sched = this.#text(files.schedstat)
        const space = sched.indexOf(' ')
        out[at] = Number(sched.slice(0, space)) / 1e6
        out[at + 1] = Number(sched.slice(space + 1, sched.indexOf(' ', space + 1))) / 1e6
        // stat: "pid (comm) state ppid … minflt cminflt majflt …": majflt is the 10th field after ")".
        if (files.stat !== null) {
          const stat = this.#text(files.stat)
          out[at + 2] = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ', 10)[9])
        }
        this.#last.set(out.subarray(at, at + FIELDS), at)
      } catch {
        // The thread has exited: its counters stay where they were.
        out.set(this.#last.subarray(at, at + FIELDS), at)
      }
    }
    return out
  }

  close(): void {
    for (const f of this.#files) {
      closeSync(f.schedstat)
      if (f.stat !== null) closeSync(f.stat)
    }
  }

  #text(fd: number): string {
    const n = readSync(fd, this.#buffer, 0, this.#buffer.length, 0)
    return this.#buffer.toString('latin1', 0, n)
  }
}

const FIELDS = 3

/**
 * How long an answer just read by this process's event loop can have waited to be read: a
 * 1 ms interval timer fires at most once per turn of the loop, in the timers phase that precedes
 * each turn's I/O poll, so an answer read now arrived after the poll of the previous turn began,
 * which is after the timer's last-but-one firing. `now − that firing` bounds the read delay, and
 * covers whatever kept the loop from reading: its own work (other answers, the DSPs, GC) or the
 * machine not running it.
 */
export class LoopTurns {
  #last = performance.now()
  #previous = this.#last
  readonly #timer: NodeJS.Timeout

  constructor() {
    this.#timer = setInterval(() => {
      this.#previous = this.#last
      this.#last = performance.now()
    }, 1)
    this.#timer.unref()
  }

  /** Upper bound (ms) of how long an answer read now waited to be read. */
  readDelayBoundMs(): number {
    return performance.now() - this.#previous
  }

  stop(): void {
    clearInterval(this.#timer)
  }
}

/** Lines written by gc-log.ts, preloaded into the exchange: `<prefix> <start, epoch ms> <duration ms>`. */
export const GC_LINE_PREFIX = 'fault-suite-gc'

/** The GC pauses logged in a process's `output`, as [start, end] in this process's performance.now() clock. */
export function gcPauses(output: string): [number, number][] {
  const pauses: [number, number][] = []
  for (const line of output.split('\n')) {
    if (!line.startsWith(GC_LINE_PREFIX)) continue
    const [, start, duration] = line.split(' ')
    const from = Number(start) - performance.timeOrigin
    pauses.push([from, from + Number(duration)])
  }
  return pauses.sort((a, b) => a[0] - b[0])
}

/** How much of [from, to] the pauses cover (they do not overlap: one event loop). */
export function pausedWithinMs(
  pauses: readonly (readonly [number, number])[],
  from: number,
  to: number,
): number {
  let total = 0
  for (const [a, b] of pauses) {
    if (a >= to) break
    if (b > from) total += Math.min(b, to) - Math.max(a, from)
  }
  return total
}
