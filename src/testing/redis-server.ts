import { type ChildProcess, spawn } from 'node:child_process'
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs'
import { createServer, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'

/**
 * A throwaway redis-server (Debian's, v7) for tests and benchmarks: loopback only, no persistence,
 * in its own temp dir, on a free port. Stands in for Dragonfly, which speaks the same protocol.
 */
export interface RedisServer {
  readonly url: string
  readonly port: number
  readonly pid: number
  /** Resolves with the exit code (or null after a signal) once the process is gone. */
  readonly exited: Promise<number | null>
  /** Stops the server (SIGTERM, then SIGKILL after 2 s) and removes its dir. Safe to call twice. */
  stop(): Promise<void>
  /** Sends a signal at once (default SIGKILL: a crash); await `exited` before reusing the port. */
  kill(signal?: NodeJS.Signals): void
  /** SIGSTOP: the server holds every connection open but answers nothing (a hung store). */
  pause(): void
  /** SIGCONT after pause(). */
  resume(): void
  /** One command over a fresh connection, for tests (FLUSHALL, CLIENT PAUSE, INFO …). */
  command(...args: (string | number)[]): Promise<RespValue>
  /** Starts MONITOR on its own connection: every command the server runs, as it runs it. */
  monitor(): Promise<Monitor>
}

export interface Monitor {
  /**
   * Commands seen so far, lower-cased name first (`['evalsha', 'sha', '1', …]`). Commands a Lua
   * script runs are left out: they cost no round trip.
   */
  commands(): string[][]
  /** Forgets what was seen. */
  clear(): void
  stop(): void
}

export type RespValue = string | number | null | RespValue[] | Error

export interface RedisServerOptions {
  /** Listen on this port (e.g. to restart a killed server where clients expect it); default a free one. */
  readonly port?: number
  /** How long to wait for the first PING answer. */
  readonly startTimeoutMs?: number
}

const SKIP_MESSAGE =
  "SKIPPED: redis-server not installed — Dragonfly tests skipped; install Debian's redis-server to run them"

/** True when a `redis-server` executable is on PATH. */
export function redisAvailable(): boolean {
  return findRedisServer() !== null
}

/**
 * For node:test: returns true when the test can run. Without redis-server it prints a loud line to
 * stderr and skips the test, or, when REQUIRE_REDIS=1 (CI), fails it.
 */
export function skipUnlessRedis(t: { skip(message?: string): void }): boolean {
  const reason = redisSkipReason()
  if (reason === false) return true
  t.skip(reason)
  return false
}

/**
 * For a whole suite (`describe(name, { skip: redisSkipReason() }, …)`): false when redis-server is
 * there, else the skip message, printed loudly. Throws when REQUIRE_REDIS=1, failing the test file.
 */
export function redisSkipReason(): string | false {
  if (redisAvailable()) return false
  if (process.env['REQUIRE_REDIS'] === '1') {
    throw new Error("REQUIRE_REDIS=1 but redis-server is not on PATH: install Debian's redis-server")
  }
  process.stderr.write(`\n${'!'.repeat(100)}\n!! ${SKIP_MESSAGE}\n${'!'.repeat(100)}\n\n`)
  return SKIP_MESSAGE
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const executable = findRedisServer()
  if (executable === null) throw new Error(SKIP_MESSAGE)
  const port = options.port ?? (await freePort())
  const dir = mkdtempSync(join(tmpdir(), 'exchange-redis-'))
  const child = spawn(
    executable,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--enable-debug-command',
      'local',
      '--loglevel',
      'warning',
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  const collect = (chunk: Buffer) => {
    if (output.length < 8_192) output += chunk.toString()
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  let isStopped = false

  try {
    await waitForPing(port, child, options.startTimeoutMs ?? 5_000)
  } catch (err) {
    child.kill('SIGKILL')
    await exited
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`redis-server on port ${port} did not start: ${(err as Error).message}\n${output}`)
  }

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    exited,
    async stop() {
      if (!isStopped) {
        isStopped = true
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGCONT') // a paused server ignores SIGTERM until it runs again
          child.kill('SIGTERM')
          const timer = setTimeout(() => child.kill('SIGKILL'), 2_000)
          await exited
          clearTimeout(timer)
        }
      }
      await exited
      rmSync(dir, { recursive: true, force: true })
    },
    kill(signal = 'SIGKILL') {
      child.kill(signal)
    },
    pause() {
      child.kill('SIGSTOP')
    },
    resume() {
      child.kill('SIGCONT')
    },
    command: (...args) => sendCommand(port, args),
    monitor: () => startMonitor(port),
  }
}

function startMonitor(port: number): Promise<Monitor> {
  return new Promise((resolve, reject) => {
    const socket = new Socket()
    let seen: string[][] = []
    let pending = ''
    let isStarted = false
    socket.setEncoding('utf8')
    socket.once('error', (err) => {
      if (!isStarted) reject(err)
    })
    socket.on('data', (chunk: string) => {
      pending += chunk
      let end = pending.indexOf('\r\n')
      while (end !== -1) {
        const line = pending.slice(0, end)
        pending = pending.slice(end + 2)
        end = pending.indexOf('\r\n')
        if (!isStarted && line === '+OK') {
          isStarted = true
          resolve(monitor)
          continue
        }
        // +1700000000.123456 [0 127.0.0.1:5555] "evalsha" "…" — or [0 lua] for a script's own calls
        const match = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] (.*)$/.exec(line)
        if (match === null || match[1] === 'lua') continue
        const words = [...match[2]!.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!)
        if (words.length > 0) seen.push([words[0]!.toLowerCase(), ...words.slice(1)])
      }
    })
    const monitor: Monitor = {
      commands: () => seen,
      clear() {
        seen = []
      },
      stop() {
        socket.destroy()
      },
    }
    socket.connect(port, '127.0.0.1', () => socket.write('MONITOR\r\n'))
  })
}

function findRedisServer(): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, 'redis-server')
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not here
    }
  }
  return null
}

/** A port the kernel just handed out on 127.0.0.1 (free unless someone races for it). */
export function freePort(): Promise<number> {
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

async function waitForPing(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs
  let lastError = 'no answer'
  while (Date.now() < giveUpAt) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error('the process exited')
    try {
      if ((await sendCommand(port, ['PING'], 500)) === 'PONG') return
    } catch (err) {
      lastError = (err as Error).message
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`no PONG within ${timeoutMs} ms (${lastError})`)
}

/**
 * Sends one command over a fresh loopback connection and reads one RESP2 reply. Tiny on purpose:
 * this folder may not import ioredis, and tests want to poke the server behind the store's back.
 */
export function sendCommand(
  port: number,
  args: readonly (string | number)[],
  timeoutMs = 2_000,
): Promise<RespValue> {
  return new Promise((resolve, reject) => {
    const socket = new Socket()
    let buffer = Buffer.alloc(0)
    const timer = setTimeout(
      () => finish(new Error(`${String(args[0])}: no reply within ${timeoutMs} ms`)),
      timeoutMs,
    )
    const finish = (result: RespValue | Error, isReply = false) => {
      clearTimeout(timer)
      socket.destroy()
      if (isReply || !(result instanceof Error)) resolve(result)
      else reject(result)
    }
    socket.once('error', (err) => finish(err))
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      try {
        const parsed = parseResp(buffer, 0)
        if (parsed !== null) finish(parsed.value, true)
      } catch (err) {
        finish(err as Error)
      }
    })
    socket.connect(port, '127.0.0.1', () => {
      let out = `*${args.length}\r\n`
      for (const arg of args) out += `$${Buffer.byteLength(String(arg))}\r\n${String(arg)}\r\n`
      socket.write(out)
    })
  })
}

/** Parses one RESP2 value at `at`; null when the buffer does not hold all of it yet. */
function parseResp(buf: Buffer, at: number): { value: RespValue; next: number } | null {
  const lineEnd = buf.indexOf('\r\n', at)
  if (lineEnd === -1) return null
  const line = buf.toString('utf8', at + 1, lineEnd)
  const next = lineEnd + 2
  switch (String.fromCharCode(buf[at]!)) {
    case '+':
      return { value: line, next }
    case '-':
      return { value: new Error(line), next }
    case ':':
      return { value: Number(line), next }
    case '$': {
      const length = Number(line)
      if (length < 0) return { value: null, next }
      if (buf.length < next + length + 2) return null
      return { value: buf.toString('utf8', next, next + length), next: next + length + 2 }
    }
    case '*': {
      const count = Number(line)
      if (count < 0) return { value: null, next }
      const items: RespValue[] = []
      let cursor = next
      for (let i = 0; i < count; i++) {
        const item = parseResp(buf, cursor)
        if (item === null) return null
        items.push(item.value)
        cursor = item.next
      }
      return { value: items, next: cursor }
    }
    default:
      throw new Error(`unexpected RESP type byte ${buf[at]}`)
  }
}
