import { type ChildProcess, spawn } from 'node:child_process'
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'

/**
 * Prometheus's own tools for tests: `promtool` (config, rule and exposition checks, rule unit
 * tests) and a throwaway `prometheus` server on loopback. Both come from Debian's `prometheus`
 * package; `.ci/run` installs it.
 */
export type PrometheusTool = 'promtool' | 'prometheus'

const OVERRIDE_ENV: Readonly<Record<PrometheusTool, string>> = {
  promtool: 'PROMTOOL',
  prometheus: 'PROMETHEUS',
}

/** The tool's path: $PROMTOOL / $PROMETHEUS when set, else the first executable on PATH. */
export function findPrometheusTool(
  name: PrometheusTool,
  env: NodeJS.ProcessEnv = process.env,
): string | null {
  const override = env[OVERRIDE_ENV[name]]
  if (override) return isExecutable(override) ? override : null
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, name)
    if (isExecutable(candidate)) return candidate
  }
  return null
}

/**
 * Whether a missing tool fails the run instead of skipping: in CI (CI set, as `.ci/run` runs),
 * with REQUIRE_PROMETHEUS=1, and with REQUIRE_REDIS=1 (CI's flag for "every server-backed test
 * must run").
 */
export function prometheusToolsRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  const ci = env['CI']
  return (
    (ci !== undefined && ci !== '' && ci !== '0' && ci !== 'false') ||
    env['REQUIRE_PROMETHEUS'] === '1' ||
    env['REQUIRE_REDIS'] === '1'
  )
}

/**
 * For node:test: the tool's path, or null after skipping the test with a loud line on stderr.
 * Where the tools are required (see above) a missing tool throws, failing the test.
 */
export function requirePrometheusTool(
  t: { readonly name: string; skip(message?: string): void },
  name: PrometheusTool,
): string | null {
  const path = findPrometheusTool(name)
  if (path !== null) return path
  const why = `${name} is not installed (Debian package "prometheus"; or set $${OVERRIDE_ENV[name]})`
  if (prometheusToolsRequired()) {
    throw new Error(`${why}, and it is required here (CI, REQUIRE_PROMETHEUS=1 or REQUIRE_REDIS=1)`)
  }
  process.stderr.write(`\n${'!'.repeat(100)}\n!! SKIPPED: ${t.name}: ${why}\n${'!'.repeat(100)}\n\n`)
  t.skip(`SKIPPED: ${why}`)
  return null
}

export interface ToolRun {
  /** Exit code, or null when the process ended on a signal (e.g. killed at the timeout). */
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a tool to completion, stdin from `input`; killed after `timeoutMs`. Never rejects on exit codes. */
export function runTool(
  path: string,
  args: readonly string[],
  options: { readonly input?: string; readonly cwd?: string; readonly timeoutMs?: number } = {},
): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString()
    })
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString()
    })
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${options.timeoutMs ?? 20_000} ms)`
      child.kill('SIGKILL')
    }, options.timeoutMs ?? 20_000)
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    child.stdin.on('error', () => undefined) // the tool may exit before reading all of stdin
    child.stdin.end(options.input ?? '')
  })
}

export interface RunningPrometheus {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  readonly url: string
  /** GET /api/v1/<path> with query parameters; resolves with the parsed JSON body (any status). */
  api(path: string, params?: Readonly<Record<string, string>>): Promise<PrometheusApiAnswer>
  /** An instant query. */
  query(expr: string): Promise<PrometheusApiAnswer>
  /** What the server printed so far (for assertion messages). */
  output(): string
  /** SIGTERM (SIGKILL after 5 s), then removes the data dir. Safe to call twice. */
  stop(): Promise<void>
}

export interface PrometheusApiAnswer {
  readonly status: 'success' | 'error'
  readonly data?: unknown
  readonly errorType?: string
  readonly error?: string
}

/**
 * Starts `prometheus` on a free loopback port with the given configuration (YAML text), storage in
 * a fresh temp dir, and waits until /-/ready answers.
 */
export async function startPrometheus(
  prometheusPath: string,
  configYaml: string,
  options: { readonly startTimeoutMs?: number } = {},
): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'exchange-prometheus-'))
  const configFile = join(dir, 'prometheus.yml')
  writeFileSync(configFile, configYaml)
  const port = await freeLoopbackPort()
  const url = `http://127.0.0.1:${port}`
  const child = spawn(
    prometheusPath,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=warn',
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  const collect = (chunk: Buffer): void => {
    if (output.length < 16_384) output += chunk.toString()
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let isStopped = false
  const stop = async (): Promise<void> => {
    if (!isStopped) {
      isStopped = true
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
        await exited
        clearTimeout(timer)
      }
      rmSync(dir, { recursive: true, force: true })
    }
    await exited
  }

  try {
    await waitUntilReady(url, child, options.startTimeoutMs ?? 15_000)
  } catch (err) {
    await stop()
    throw new Error(`prometheus did not start on ${url}: ${(err as Error).message}\n${output}`)
  }

  const api = async (
    path: string,
    params: Readonly<Record<string, string>> = {},
  ): Promise<PrometheusApiAnswer> => {
    const res = await fetch(`${url}/api/v1/${path}?${new URLSearchParams(params).toString()}`, {
      signal: AbortSignal.timeout(5_000),
    })
    return (await res.json()) as PrometheusApiAnswer
  }
  return {
    url,
    api,
    query: (expr) => api('query', { query: expr }),
    output: () => output,
    stop,
  }
}

async function waitUntilReady(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs
  let last = 'no answer'
  while (Date.now() < giveUpAt) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error('the process exited')
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) })
      await res.arrayBuffer()
      if (res.ok) return
      last = `HTTP ${res.status}`
    } catch (err) {
      last = (err as Error).message
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`not ready within ${timeoutMs} ms (${last})`)
}

/** A port the kernel just handed out on 127.0.0.1 (free unless someone races for it). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}
