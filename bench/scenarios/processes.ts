/**
 * The benchmark's child processes: each in its own process group (pinned with taskset when asked),
 * stdout kept line by line and logged to the scenario's temp dir, all killed at the end, on failure
 * and on SIGINT. Plus the small waits a run needs (health, start-up lines, a quiet machine).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { get } from 'node:http'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { coreBusyShare, readCoreSamples } from '../process-stats.js'

export interface Child {
  readonly name: string
  readonly proc: ChildProcess
  readonly pid: number
  /** stdout lines so far. */
  readonly lines: string[]
  readonly logPath: string
  exited: boolean
}

const children = new Set<Child>()
/** Extra clean-ups run by killAllNow (e.g. a redis-server started through its own helper). */
const killers = new Set<() => void>()

export interface LaunchSpec {
  readonly name: string
  /** Node arguments: the script and its flags (node options first, e.g. --cpu-prof). */
  readonly args: readonly string[]
  /** taskset core list, or null not to pin. */
  readonly core: string | null
  readonly env?: Readonly<Record<string, string>>
  /** Working directory. */
  readonly cwd: string
  /** Where its log goes. */
  readonly dir: string
  /** Called with each stdout line as it arrives. */
  readonly onLine?: (line: string) => void
}

export function launch({ name, args, core, env = {}, cwd, dir, onLine }: LaunchSpec): Child {
  const command = core === null ? process.execPath : 'taskset'
  const argv = core === null ? [...args] : ['-c', core, process.execPath, ...args]
  const proc = spawn(command, argv, { cwd, env: { ...process.env, ...env }, detached: true })
  if (proc.pid === undefined) throw new Error(`cannot start ${name}`)
  const logPath = join(dir, `${name}.log`)
  const log = createWriteStream(logPath)
  const child: Child = { name, proc, pid: proc.pid, lines: [], logPath, exited: false }
  let partial = ''
  proc.stdout?.on('data', (chunk: Buffer) => {
    log.write(chunk)
    const text = partial + chunk.toString('utf8')
    const parts = text.split('\n')
    partial = parts.pop() ?? ''
    child.lines.push(...parts)
    if (onLine !== undefined) for (const line of parts) onLine(line)
  })
  proc.stderr?.pipe(log)
  // 'close', not 'exit': stdout is fully read by then.
  proc.on('close', () => {
    child.exited = true
    if (partial !== '') child.lines.push(partial)
    children.delete(child)
  })
  children.add(child)
  return child
}

/** SIGTERM to the child's process group, SIGKILL after `graceMs`; resolves when it has exited. */
export async function stop(child: Child, graceMs = 3000): Promise<void> {
  if (child.exited) return
  const exited = new Promise<void>((r) => child.proc.once('close', () => r()))
  signalGroup(child.pid, 'SIGTERM')
  const timer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

export async function stopAll(): Promise<void> {
  for (const c of [...children]) await stop(c)
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch {
    // Already gone.
  }
}

export function onKillAll(kill: () => void): () => void {
  killers.add(kill)
  return () => killers.delete(kill)
}

export function killAllNow(): void {
  for (const c of children) signalGroup(c.pid, 'SIGKILL')
  for (const k of killers) k()
}

export function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** Moves a running process (all its threads) onto a core list. */
export function pin(pid: number, cores: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cores, String(pid)], { stdio: 'ignore' })
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolvePort(port))
    })
  })
}

function httpStatus(url: string): Promise<number> {
  return new Promise((r) => {
    const req = get(url, { agent: false, timeout: 1000 }, (res) => {
      res.resume()
      r(res.statusCode ?? 0)
    })
    req.on('error', () => r(0))
    req.on('timeout', () => req.destroy())
  })
}

export async function waitForStatus200(child: Child, url: string, timeoutMs = 60_000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs
  while (Date.now() < giveUpAt) {
    if (child.exited) throw new Error(`${child.name} exited before it was ready; see ${child.logPath}`)
    if ((await httpStatus(url)) === 200) return
    await sleep(100)
  }
  throw new Error(`${child.name} not ready at ${url} after ${timeoutMs / 1000} s; see ${child.logPath}`)
}

export async function waitForLines(
  child: Child,
  pattern: RegExp,
  count: number,
  timeoutMs = 15_000,
): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs
  while (child.lines.filter((l) => pattern.test(l)).length < count) {
    if (child.exited) throw new Error(`${child.name} exited at start; see ${child.logPath}`)
    if (Date.now() > giveUpAt) throw new Error(`${child.name} did not start in time; see ${child.logPath}`)
    await sleep(50)
  }
}

/**
 * Waits (bounded) until every core is under 10% busy, so a run does not start on a busy machine.
 * Returns null when quiet, else the last busy shares seen (e.g. "41%/3%").
 */
export async function waitForQuiet(maxS: number): Promise<string | null> {
  const giveUpAt = Date.now() + maxS * 1000
  const sampleMs = Math.min(500, Math.max(100, maxS * 1000))
  let shares: number[] = []
  do {
    const before = readCoreSamples()
    await sleep(sampleMs)
    const after = readCoreSamples()
    shares = before.map((_, i) => coreBusyShare(before, after, i))
    if (shares.every((b) => b < 0.1)) return null
  } while (Date.now() < giveUpAt)
  return shares.map((b) => `${Math.round(b * 100)}%`).join('/')
}

/** CLOCK_MONOTONIC in µs: the clock of V8's .cpuprofile timestamps. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n)
}
