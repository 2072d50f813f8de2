import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

/** CPU time and memory of one process at one instant, from /proc (Linux only). */
export interface ProcessSample {
  readonly pid: number
  /** performance.now() when read. */
  readonly atMs: number
  /** utime + stime of every thread of the process, in µs (clock-tick resolution, 10 ms at 100 Hz). */
  readonly cpuUs: number
  readonly rssBytes: number
}

/** Busy and total time of one CPU core from /proc/stat, in clock ticks. */
export interface CoreSample {
  readonly busyTicks: number
  /**
   * user + nice + system: time in process context, which is what processes' utime+stime add up to.
   * busyTicks adds irq, softirq and steal: loopback networking runs largely in softirq, charged to
   * the core but to no process (so it says nothing about other processes on the core).
   */
  readonly taskTicks: number
  readonly totalTicks: number
}

let ticksPerSecond: number | null = null

/** USER_HZ: the unit of /proc's CPU times. 100 on Linux; `getconf CLK_TCK` says for sure. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond !== null) return ticksPerSecond
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
    ticksPerSecond = Number.isInteger(n) && n > 0 ? n : 100
  } catch {
    ticksPerSecond = 100
  }
  return ticksPerSecond
}

/** Reads /proc/<pid>/stat and /proc/<pid>/status; throws when the process is gone. */
export function readProcessSample(pid: number): ProcessSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
  // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // Fields from 3 on: state is [0], so utime (field 14) is [11] and stime (field 15) is [12].
  const ticks = Number(fields[11]) + Number(fields[12])
  const status = readFileSync(`/proc/${pid}/status`, 'latin1')
  const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
  return {
    pid,
    atMs: performance.now(),
    cpuUs: (ticks * 1e6) / clockTicksPerSecond(),
    rssBytes: rss?.[1] === undefined ? 0 : Number(rss[1]) * 1024,
  }
}

/** What a process used between two samples. */
export interface ProcessUsage {
  readonly wallMs: number
  readonly cpuUs: number
  /** Share of one core, 0..1 per core. */
  readonly cpuShare: number
  readonly rssBytes: number
}

export function usageBetween(before: ProcessSample, after: ProcessSample): ProcessUsage {
  const wallMs = after.atMs - before.atMs
  const cpuUs = after.cpuUs - before.cpuUs
  return { wallMs, cpuUs, cpuShare: wallMs > 0 ? cpuUs / 1000 / wallMs : 0, rssBytes: after.rssBytes }
}

/** Server CPU µs per request over a window: the per-core cost that throughput figures hide. */
export function cpuUsPerRequest(before: ProcessSample, after: ProcessSample, requests: number): number {
  return requests > 0 ? (after.cpuUs - before.cpuUs) / requests : Number.NaN
}

/** The pid of a kernel thread by name (e.g. `ksoftirqd/0`), or null. */
export function findKernelThread(name: string): number | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'latin1').trim() === name) return Number(entry)
    } catch {
      // Gone meanwhile.
    }
  }
  return null
}

/** Per-core busy/total ticks from /proc/stat (busy = everything but idle and iowait). */
export function readCoreSamples(): CoreSample[] {
  const cores: CoreSample[] = []
  for (const line of readFileSync('/proc/stat', 'latin1').split('\n')) {
    if (!/^cpu\d+ /.test(line)) continue
    const t = line.trim().split(/\s+/).slice(1, 9).map(Number)
    const total = t.reduce((a, b) => a + b, 0)
    const task = (t[0] ?? 0) + (t[1] ?? 0) + (t[2] ?? 0)
    cores.push({ busyTicks: total - (t[3] ?? 0) - (t[4] ?? 0), taskTicks: task, totalTicks: total })
  }
  return cores
}

/** Busy share (0..1) of one core between two /proc/stat readings (`task`: process context only). */
export function coreBusyShare(
  before: readonly CoreSample[],
  after: readonly CoreSample[],
  core: number,
  field: 'busy' | 'task' = 'busy',
): number {
  const b = before[core]
  const a = after[core]
  if (a === undefined || b === undefined || a.totalTicks === b.totalTicks) return Number.NaN
  const ticks = field === 'busy' ? a.busyTicks - b.busyTicks : a.taskTicks - b.taskTicks
  return ticks / (a.totalTicks - b.totalTicks)
}
