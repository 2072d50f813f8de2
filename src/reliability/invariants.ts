import assert from 'node:assert/strict'
import { connect } from 'node:net'

/*
 * Invariants every reliability suite checks, and the small clients they are checked with. An
 * auction request, whatever its bytes, gets one of ALLOWED_AUCTION_STATUSES, never a 5xx, never a
 * hang; the process neither crashes nor leaks an unhandled rejection; and no answer comes after its
 * deadline plus a small margin.
 */

/** 200 bid, 204 no-bid, 400 invalid, 413 too large: the only answers bad input may get. */
export const ALLOWED_AUCTION_STATUSES: readonly number[] = [200, 204, 400, 413]

/** A request still unanswered after this long is a hang (the longest legal answer takes ~tmax). */
export const HANG_MS = 5_000

/**
 * Records unhandled rejections and uncaught exceptions of this process while a suite runs against
 * an in-process exchange; `assertClean` fails with what was caught. The test runner reports them
 * too, but attributes them to whichever test happens to be running.
 */
export class ProcessWatch {
  readonly problems: string[] = []
  readonly #onRejection = (reason: unknown): void => {
    this.problems.push(`unhandledRejection: ${describe(reason)}`)
  }
  readonly #onException = (err: unknown): void => {
    this.problems.push(`uncaughtException: ${describe(err)}`)
  }

  constructor() {
    process.on('unhandledRejection', this.#onRejection)
    process.on('uncaughtExceptionMonitor', this.#onException)
  }

  assertClean(): void {
    assert.deepEqual(this.problems, [], 'the process had unhandled errors')
  }

  stop(): void {
    process.off('unhandledRejection', this.#onRejection)
    process.off('uncaughtExceptionMonitor', this.#onException)
  }
}

function describe(value: unknown): string {
  return value instanceof Error ? `${value.name}: ${value.message}` : String(value)
}

export interface Answer {
  readonly status: number
  readonly text: string
  readonly ms: number
}

/**
 * POSTs one body (a string, or raw bytes that need not be UTF-8) and reads the whole answer; a
 * request unanswered after HANG_MS rejects, naming the body, instead of stalling the suite.
 *
 * A server may answer an oversized body from its content-length alone (413) and close at once;
 * fetch, still writing, then fails with EPIPE and loses the answer. The status is then read on a
 * raw socket that sends the head, waits for an answer, and only then the body.
 */
export async function post(
  url: string,
  body: string | Uint8Array,
  label: string,
  headers: Readonly<Record<string, string>> = {},
): Promise<Answer> {
  const startedAt = performance.now()
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
      signal: AbortSignal.timeout(HANG_MS),
    })
    const text = await res.text()
    return { status: res.status, text, ms: performance.now() - startedAt }
  } catch (err) {
    const raw = await postRaw(new URL(url), body, headers)
    if (raw.status !== null) return { status: raw.status, text: '', ms: performance.now() - startedAt }
    throw new Error(`${label}: no answer (${describe(err)})`, { cause: err })
  }
}

function postRaw(
  url: URL,
  body: string | Uint8Array,
  headers: Readonly<Record<string, string>>,
): Promise<RawOutcome> {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body
  let head = `POST ${url.pathname} HTTP/1.1\r\nhost: ${url.host}\r\ncontent-length: ${bytes.length}\r\n`
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`
  return rawRequest(Number(url.port), [`${head}\r\n`, bytes], { gapMs: 50, waitMs: HANG_MS })
}

/** The exchange still answers its liveness probe, quickly. */
export async function assertServing(url: string, context: string): Promise<void> {
  const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) })
  assert.equal(res.status, 200, `${context}: /healthz answered ${res.status}`)
}

/** Runs `fn` over `items` with at most `limit` in progress. */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++
      await fn(items[index]!, index)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

/**
 * The value of one sample in Prometheus text (0 when the series is absent): `labels` must match
 * the sample's labels exactly, in any order.
 */
export function sampleValue(
  text: string,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  return findSample(text, name, labels) ?? 0
}

/** Like sampleValue, for a series that must exist (a gauge): a renamed metric fails loudly. */
export function requiredSample(
  text: string,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  const value = findSample(text, name, labels)
  if (value === null) throw new Error(`no sample ${name}${JSON.stringify(labels)} in the metrics`)
  return value
}

function findSample(text: string, name: string, labels: Readonly<Record<string, string>>): number | null {
  const wanted = Object.entries(labels)
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null || match[1] !== name) continue
    const found = new Map<string, string>()
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) found.set(pair[1]!, pair[2]!)
    if (found.size === wanted.length && wanted.every(([k, v]) => found.get(k) === v)) return Number(match[3])
  }
  return null
}

/** Observations of a histogram above bucket `le` (seconds): answers slower than that. */
export function countAbove(text: string, name: string, le: string): number {
  const within = findSample(text, `${name}_bucket`, { le })
  // A renamed bucket must fail loudly, not read as "everything was late" or "nothing was".
  if (within === null) throw new Error(`${name} has no bucket le="${le}"`)
  return sampleValue(text, `${name}_bucket`, { le: '+Inf' }) - within
}

export interface RawOutcome {
  /** Status code of the answer, or null when none came. */
  readonly status: number | null
  /** The server closed the connection (FIN or reset) before we gave up waiting. */
  readonly closedByServer: boolean
  readonly ms: number
}

/**
 * Writes `parts` to a fresh TCP connection (`gapMs` apart) and waits up to `waitMs` for a status
 * line or for the server to close: for what fetch refuses to send (oversized or too many headers,
 * broken framing) and for watching how the server ends a connection.
 */
export function rawRequest(
  port: number,
  parts: readonly (string | Uint8Array)[],
  options: { gapMs?: number; waitMs?: number } = {},
): Promise<RawOutcome> {
  const { gapMs = 0, waitMs = 3_000 } = options
  return new Promise((resolve) => {
    const startedAt = performance.now()
    const socket = connect(port, '127.0.0.1')
    socket.setNoDelay(true)
    let received = ''
    let isSettled = false
    let timer: NodeJS.Timeout | undefined
    const settle = (closedByServer: boolean): void => {
      if (isSettled) return
      isSettled = true
      clearTimeout(timer)
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(received)
      socket.destroy()
      resolve({
        status: status ? Number(status[1]) : null,
        closedByServer,
        ms: performance.now() - startedAt,
      })
    }
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1')
      if (received.includes('\r\n\r\n')) settle(false)
    })
    socket.on('error', () => settle(true))
    socket.on('close', () => settle(true))
    socket.on('connect', async () => {
      timer = setTimeout(() => settle(false), waitMs)
      for (const part of parts) {
        if (isSettled || socket.destroyed) return
        socket.write(part)
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs))
      }
    })
  })
}
