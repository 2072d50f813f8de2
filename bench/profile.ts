import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'

/**
 * Where the time goes: reads a V8 `.cpuprofile` (`node --cpu-prof`) and sums self time per function
 * and per area (uWS, undici, ioredis, prom-client, each src/ directory, GC, V8 builtins, node
 * internals), optionally only over a time window (CLOCK_MONOTONIC µs: the clock of the profile's
 * timestamps and of process.hrtime in any process on the machine), so start-up is left out.
 *
 * Usage: node dist/bench/profile.js FILE.cpuprofile [--top 25] [--json]
 */

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[]
  readonly startTime: number
  readonly endTime: number
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
}

export interface ProfileEntry {
  readonly name: string
  readonly selfMs: number
  /** Share of the non-idle time in the window. */
  readonly share: number
}

export interface ProfileSummary {
  /** Wall time covered by the samples used, ms. */
  readonly windowMs: number
  /** Of which not idle (the process was running JS, GC or native code), ms. */
  readonly busyMs: number
  readonly samples: number
  readonly top: readonly ProfileEntry[]
  readonly areas: readonly ProfileEntry[]
  /** Set when the window asked for did not overlap the profile (then the whole profile was used). */
  readonly note: string | null
}

/** Monotonic-clock µs window [startUs, endUs]. */
export interface ProfileWindow {
  readonly startUs: number
  readonly endUs: number
}

export function summarizeProfile(
  path: string,
  window: ProfileWindow | null = null,
  topN = 25,
): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile
  const frames = new Map<number, CallFrame>()
  for (const n of profile.nodes) frames.set(n.id, n.callFrame)
  // Sample i's time runs until sample i+1 (the last one gets the mean interval).
  const times: number[] = []
  let t = profile.startTime
  for (const d of profile.timeDeltas) times.push((t += d))
  const meanInterval = times.length > 1 ? (times.at(-1)! - times[0]!) / (times.length - 1) : 0
  let note: string | null = null
  let from = Number.NEGATIVE_INFINITY
  let to = Number.POSITIVE_INFINITY
  if (window !== null) {
    if (window.endUs <= profile.startTime || window.startUs >= profile.endTime) {
      note = 'the measured window does not overlap the profile: whole profile summarized'
    } else {
      from = window.startUs
      to = window.endUs
    }
  }
  const byFunction = new Map<string, number>()
  const byArea = new Map<string, number>()
  let idleUs = 0
  let totalUs = 0
  let used = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const at = times[i]!
    if (at < from || at > to) continue
    const dt = i + 1 < times.length ? times[i + 1]! - at : meanInterval
    const frame = frames.get(profile.samples[i]!)
    if (frame === undefined) continue
    used++
    totalUs += dt
    if (frame.functionName === '(idle)') {
      idleUs += dt
      continue
    }
    const key = functionLabel(frame)
    byFunction.set(key, (byFunction.get(key) ?? 0) + dt)
    const area = areaOf(frame)
    byArea.set(area, (byArea.get(area) ?? 0) + dt)
  }
  const busyUs = totalUs - idleUs
  const entries = (m: Map<string, number>, n: number): ProfileEntry[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, selfMs: us / 1000, share: busyUs > 0 ? us / busyUs : 0 }))
  return {
    windowMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    samples: used,
    top: entries(byFunction, topN),
    areas: entries(byArea, 40),
    note,
  }
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/')
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length)
  const dist = url.lastIndexOf('/dist/')
  if (dist >= 0) return url.slice(dist + '/dist/'.length)
  return url.replace(/^file:\/\//, '')
}

function functionLabel(f: CallFrame): string {
  const name = f.functionName === '' ? '(anonymous)' : f.functionName
  if (f.url === '') return name
  return `${name} ${shortUrl(f.url)}:${f.lineNumber + 1}`
}

/** The library or source directory a frame belongs to. */
export function areaOf(f: CallFrame): string {
  const url = f.url
  if (url === '') {
    if (f.functionName === '(garbage collector)') return 'GC'
    if (f.functionName === '(program)') return 'V8/native, not attributed (program)'
    return 'V8 builtins (JSON, RegExp, Map, …)'
  }
  for (const lib of [
    'uWebSockets.js',
    'undici',
    'ioredis',
    'prom-client',
    'pino',
    '@ioredis',
    'redis-errors',
  ]) {
    if (url.includes(`node_modules/${lib}/`)) return lib
  }
  if (url.includes('node_modules/')) return 'other node_modules'
  if (url.startsWith('node:')) {
    const m = /^node:(?:internal\/)?([a-z_]+)/.exec(url)
    return `node: ${m?.[1] ?? 'internal'}`
  }
  const src = /\/dist\/src\/([^/]+)(?:\/([^/]+))?/.exec(url)
  if (src !== null) {
    if (src[1] === 'stages' && src[2] !== undefined) return `src/stages/${src[2]}`
    return src[2] !== undefined && !src[2].endsWith('.js') ? `src/${src[1]}/${src[2]}` : `src/${src[1]}`
  }
  return shortUrl(url)
}

export function formatProfile(s: ProfileSummary): string {
  const pct = (share: number) => `${(share * 100).toFixed(1)}%`
  const lines = [
    `CPU profile: ${s.samples} samples over ${(s.windowMs / 1000).toFixed(1)} s, ` +
      `${(s.busyMs / 1000).toFixed(1)} s not idle` +
      (s.note === null ? '' : ` (${s.note})`),
    '',
    '| area | self ms | share of busy |',
    '|---|---|---|',
    ...s.areas.map((a) => `| ${a.name} | ${a.selfMs.toFixed(0)} | ${pct(a.share)} |`),
    '',
    '| function (self time) | self ms | share of busy |',
    '|---|---|---|',
    ...s.top.map((a) => `| ${a.name.replaceAll('|', '\\|')} | ${a.selfMs.toFixed(0)} | ${pct(a.share)} |`),
  ]
  return lines.join('\n')
}

export interface StallCause {
  readonly name: string
  readonly stretches: number
  readonly ms: number
  readonly maxMs: number
}

export interface StallSummary {
  readonly thresholdMs: number
  /** Busy stretches (no idle sample in between) at least thresholdMs long. */
  readonly count: number
  readonly totalMs: number
  readonly maxMs: number
  /** Each stretch under the cause that ran most of it: the outermost src/ frame on the stack. */
  readonly causes: readonly StallCause[]
}

/**
 * What keeps the event loop busy for long stretches (a request arriving then waits): consecutive
 * non-idle samples, each stretch put down to the outermost src/ frame on most of its samples (the
 * entry point: a request handler, a DSP answer, a timer), else its area (GC, uWS, …). Meaningful
 * for an open loop below saturation; in a closed loop the process is never idle.
 */
export function findStalls(path: string, window: ProfileWindow | null, thresholdMs = 3): StallSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile & {
    nodes: readonly (ProfileNode & { children?: readonly number[] })[]
  }
  const frames = new Map<number, CallFrame>()
  const parent = new Map<number, number>()
  for (const n of profile.nodes) {
    frames.set(n.id, n.callFrame)
    for (const c of n.children ?? []) parent.set(c, n.id)
  }
  const causeCache = new Map<number, string>()
  const causeOf = (id: number): string => {
    const cached = causeCache.get(id)
    if (cached !== undefined) return cached
    let outer: CallFrame | null = null
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = frames.get(at)
      if (f?.url.includes('/dist/src/')) outer = f
    }
    const own = frames.get(id)
    const name = outer !== null ? functionLabel(outer) : own === undefined ? '?' : areaOf(own)
    causeCache.set(id, name)
    return name
  }
  const inWindow = (t: number) => window === null || (t >= window.startUs && t <= window.endUs)
  const stretches: { ms: number; cause: string }[] = []
  let t = profile.startTime
  let startAt = -1
  let counts = new Map<string, number>()
  const close = (endAt: number) => {
    if (startAt >= 0) {
      const ms = (endAt - startAt) / 1000
      if (ms >= thresholdMs) {
        const cause = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '?'
        stretches.push({ ms, cause })
      }
    }
    startAt = -1
    counts = new Map()
  }
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0
    if (!inWindow(t)) {
      close(t)
      continue
    }
    const id = profile.samples[i]!
    if (frames.get(id)?.functionName === '(idle)') {
      close(t)
      continue
    }
    if (startAt < 0) startAt = t
    const cause = causeOf(id)
    counts.set(cause, (counts.get(cause) ?? 0) + 1)
  }
  close(t)
  const byCause = new Map<string, { stretches: number; ms: number; maxMs: number }>()
  for (const s of stretches) {
    const c = byCause.get(s.cause) ?? { stretches: 0, ms: 0, maxMs: 0 }
    c.stretches++
    c.ms += s.ms
    c.maxMs = Math.max(c.maxMs, s.ms)
    byCause.set(s.cause, c)
  }
  return {
    thresholdMs,
    count: stretches.length,
    totalMs: stretches.reduce((a, s) => a + s.ms, 0),
    maxMs: stretches.reduce((a, s) => Math.max(a, s.ms), 0),
    causes: [...byCause]
      .map(([name, c]) => ({ name, ...c }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 15),
  }
}

export function formatStalls(s: StallSummary, windowS: number): string {
  if (s.count === 0)
    return `Event-loop stretches ≥ ${s.thresholdMs} ms: none in the ${windowS.toFixed(1)} s window`
  return [
    `Event-loop busy stretches ≥ ${s.thresholdMs} ms over the ${windowS.toFixed(1)} s window: ${s.count}, ` +
      `${s.totalMs.toFixed(0)} ms in all, longest ${s.maxMs.toFixed(1)} ms. By what ran most of each:`,
    '',
    '| entry point (outermost src/ frame) | stretches | ms | longest ms |',
    '|---|---|---|---|',
    ...s.causes.map(
      (c) =>
        `| ${c.name.replaceAll('|', '\\|')} | ${c.stretches} | ${c.ms.toFixed(0)} | ${c.maxMs.toFixed(1)} |`,
    ),
  ].join('\n')
}

export interface GcPauses {
  readonly kind: string
  readonly count: number
  readonly totalMs: number
  readonly p50Ms: number
  readonly maxMs: number
}

/**
 * Pauses from `node --trace-gc` lines (`… 12035 ms: Scavenge 98.6 (126.5) -> 97.2 (126.5) MB,
 * 2.13 / 0.00 ms …`): the first figure after "MB," is the time the main thread stood still.
 */
export function summarizeGcTrace(lines: readonly string[]): GcPauses[] {
  const byKind = new Map<string, number[]>()
  for (const line of lines) {
    const m =
      /\d+ ms: ([A-Za-z -]+?)(?: \([a-z ]+\))? [\d.]+ \([\d.]+\) -> [\d.]+ \([\d.]+\) MB, ([\d.]+) \//.exec(
        line,
      )
    if (m === null) continue
    const kind = m[1]!.trim()
    const list = byKind.get(kind) ?? []
    list.push(Number(m[2]))
    byKind.set(kind, list)
  }
  return [...byKind].map(([kind, pauses]) => {
    const sorted = [...pauses].sort((a, b) => a - b)
    return {
      kind,
      count: sorted.length,
      totalMs: sorted.reduce((a, b) => a + b, 0),
      p50Ms: sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN,
      maxMs: sorted.at(-1) ?? Number.NaN,
    }
  })
}

export function formatGc(pauses: readonly GcPauses[], windowS: number): string {
  if (pauses.length === 0) return 'GC pauses (--trace-gc): none in the window'
  return [
    `GC pauses (--trace-gc) over the ${windowS.toFixed(1)} s window:`,
    '',
    '| kind | pauses | total ms | share of wall time | p50 ms | max ms |',
    '|---|---|---|---|---|---|',
    ...pauses.map(
      (p) =>
        `| ${p.kind} | ${p.count} | ${p.totalMs.toFixed(0)} | ${(p.totalMs / 10 / windowS || 0).toFixed(1)}% | ` +
        `${p.p50Ms.toFixed(2)} | ${p.maxMs.toFixed(2)} |`,
    ),
  ].join('\n')
}

function cli(): void {
  const { values, positionals } = parseArgs({
    options: { top: { type: 'string', default: '25' }, json: { type: 'boolean', default: false } },
    allowPositionals: true,
    strict: true,
  })
  const path = positionals[0]
  if (path === undefined)
    throw new Error('usage: node dist/bench/profile.js FILE.cpuprofile [--top 25] [--json]')
  const summary = summarizeProfile(path, null, Number(values.top))
  console.log(values.json ? JSON.stringify(summary, null, 2) : formatProfile(summary))
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    cli()
  } catch (err) {
    console.error(`profile: ${(err as Error).message}`)
    process.exit(2)
  }
}
