import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { projectRoot } from './shared-fixtures.js'

export interface ChildExchange {
  readonly url: string
  readonly port: number
  readonly child: ChildProcess
  /** Everything the process printed so far. */
  output(): string
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>
  kill(signal?: NodeJS.Signals): void
}

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      )
    })
  })
}

/**
 * Runs the built exchange (`dist/src/main.js`) as its own process, as an operator would, with a
 * config file written to a temp dir; resolves once /healthz answers.
 */
export async function startChildExchange(
  config: Record<string, unknown>,
  env: Record<string, string> = {},
): Promise<ChildExchange> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'rtb-child-'))
  const configPath = join(dir, 'exchange.json')
  // As in test-exchange.ts: lag shedding only where a test configures it.
  const overload = { maxEventLoopLagMs: 10_000, ...(config['overload'] as object | undefined) }
  writeFileSync(configPath, JSON.stringify({ host: '127.0.0.1', ...config, overload, port }))
  const child = spawn(process.execPath, [join(projectRoot(), 'dist', 'src', 'main.js')], {
    env: { ...process.env, EXCHANGE_CONFIG: configPath, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString()
  })
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const url = `http://127.0.0.1:${port}`
  const giveUpAt = Date.now() + 20_000
  while (Date.now() < giveUpAt) {
    if (child.exitCode !== null) throw new Error(`exchange exited at start:\n${output}`)
    try {
      if ((await fetch(`${url}/healthz`)).ok) break
    } catch {
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  return { url, port, child, output: () => output, exited, kill: (signal = 'SIGTERM') => child.kill(signal) }
}
