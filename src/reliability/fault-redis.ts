import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, type RespValue, sendCommand } from '../testing/redis-server.js'

/**
 * A redis-server (the Dragonfly stand-in) that survives being killed: an append-only file fsynced
 * before every reply (`appendfsync always`) in a directory kept across restarts, so a SIGKILL
 * followed by `restart()` on the same port comes back with every write it acknowledged. That is
 * "Dragonfly restarted with its data"; a store that comes back empty is a different failure (its
 * budgets are gone) that no exchange-side invariant can survive. Loopback only.
 */
export interface PersistentRedis {
  readonly url: string
  readonly port: number
  /** pid of the server running now (changes on restart). */
  pid(): number
  /** SIGKILL, then wait until the process is gone. */
  kill(): Promise<void>
  /** Starts the server again on the same port and directory; resolves once it answers PING. */
  restart(): Promise<void>
  /** SIGSTOP: connections stay open, nothing is answered. */
  pause(): void
  /** SIGCONT after pause(). */
  resume(): void
  command(...args: (string | number)[]): Promise<RespValue>
  /** Stops the server (SIGCONT, SIGTERM, SIGKILL after 2 s) and removes its directory. Idempotent. */
  stop(): Promise<void>
}

export async function startPersistentRedis(): Promise<PersistentRedis> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'fault-redis-'))
  let child = await launch(port, dir)
  let isStopped = false
  const waitExit = (c: ChildProcess): Promise<void> =>
    c.exitCode !== null || c.signalCode !== null
      ? Promise.resolve()
      : new Promise((resolve) => c.once('exit', () => resolve()))
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: () => child.pid ?? -1,
    async kill() {
      child.kill('SIGKILL')
      await waitExit(child)
    },
    async restart() {
      child = await launch(port, dir)
    },
    pause() {
      child.kill('SIGSTOP')
    },
    resume() {
      child.kill('SIGCONT')
    },
    command: (...args) => sendCommand(port, args),
    async stop() {
      if (isStopped) return
      isStopped = true
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT')
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 2_000)
        await waitExit(child)
        clearTimeout(timer)
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function launch(port: number, dir: string): Promise<ChildProcess> {
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'yes',
    '--appendfsync',
    'always',
    '--dir',
    dir,
    '--loglevel',
    'warning',
  ]
  const child = spawn('redis-server', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const collect = (chunk: Buffer): void => {
    if (output.length < 8_192) output += chunk.toString()
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  child.once('error', (err) => {
    output += `spawn: ${err.message}`
  })
  // A restarted server replays its append-only file before it answers: wait for the first PONG.
  const giveUpAt = Date.now() + 10_000
  while (Date.now() < giveUpAt) {
    if (child.exitCode !== null || child.signalCode !== null) break
    try {
      if ((await sendCommand(port, ['PING'], 500)) === 'PONG') return child
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  child.kill('SIGKILL')
  throw new Error(`redis-server on port ${port} did not answer PING:\n${output}`)
}
