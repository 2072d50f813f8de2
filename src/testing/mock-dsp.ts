import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** What a mock DSP does with one request. */
export type MockBehaviour =
  | { readonly kind: 'respond'; readonly status: number; readonly body?: string; readonly delayMs?: number }
  | { readonly kind: 'hang' }
  | { readonly kind: 'reset' }
  | { readonly kind: 'trickle'; readonly body: string; readonly intervalMs: number }

export interface ReceivedCall {
  readonly headers: IncomingMessage['headers']
  readonly body: Record<string, unknown>
  readonly receivedAt: number
}

export interface MockDsp {
  readonly url: string
  readonly calls: ReceivedCall[]
  /** Replace the behaviour for the next requests. */
  behave(fn: (request: Record<string, unknown>) => MockBehaviour): void
  close(): Promise<void>
}

/**
 * A DSP on 127.0.0.1 for end-to-end tests, on node:http so it is independent of the exchange's
 * own stack. Records every call and answers as the test tells it to.
 */
export async function startMockDsp(
  initial: (request: Record<string, unknown>) => MockBehaviour,
): Promise<MockDsp> {
  let behaviour = initial
  const calls: ReceivedCall[] = []
  const hanging = new Set<ServerResponse>()
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      // The exchange warms its pools with OPTIONS: answer, but do not count it as a bid request.
      if (req.method !== 'POST') return void res.writeHead(204).end()
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>
      calls.push({ headers: req.headers, body, receivedAt: performance.now() })
      act(behaviour(body), res, hanging)
    })
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}/bid`,
    calls,
    behave(fn) {
      behaviour = fn
    },
    async close() {
      for (const res of hanging) res.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

function act(b: MockBehaviour, res: ServerResponse, hanging: Set<ServerResponse>): void {
  switch (b.kind) {
    case 'hang':
      hanging.add(res)
      return
    case 'reset':
      res.socket?.destroy()
      return
    case 'trickle': {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b.body) })
      let i = 0
      const timer = setInterval(() => {
        if (res.destroyed || i >= b.body.length) return clearInterval(timer)
        res.write(b.body[i++])
        if (i >= b.body.length) res.end()
      }, b.intervalMs)
      hanging.add(res)
      return
    }
    case 'respond': {
      const send = (): void => {
        res.writeHead(b.status, b.body ? { 'content-type': 'application/json' } : {})
        res.end(b.body ?? '')
      }
      if (b.delayMs) {
        hanging.add(res)
        setTimeout(send, b.delayMs)
      } else send()
    }
  }
}

/** A BidResponse with one bid per imp id given. */
export function bidResponse(
  requestId: unknown,
  bids: readonly { impid: string; price: number; [k: string]: unknown }[],
  seat = 'seat-1',
): string {
  return JSON.stringify({
    id: requestId,
    cur: 'USD',
    seatbid: [
      {
        seat,
        bid: bids.map((b, i) => ({
          id: `b${i + 1}`,
          adm: '<div>ad ${AUCTION_PRICE}</div>',
          crid: 'c1',
          ...b,
        })),
      },
    ],
  })
}

/** Resolves once the DSP has received at least `n` bid requests in all (bounded wait). */
export async function waitForCalls(dsp: MockDsp, n: number, timeoutMs = 5_000): Promise<void> {
  const giveUpAt = performance.now() + timeoutMs
  while (dsp.calls.length < n) {
    if (performance.now() > giveUpAt)
      throw new Error(`the DSP got ${dsp.calls.length} of ${n} calls in ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 1))
  }
}
