/*
 * The socket transport against a raw TCP server that writes response bytes by hand: keep-alive
 * reuse, the pool limit, reconnects after the DSP closes a connection, the one retry for a request
 * that met a connection closed while idle, protocol violations, deadlines and backoff. The fan-out
 * suite (fan-out.serial.test.ts) runs the same DSP misbehaviours through both transports.
 */
import assert from 'node:assert/strict'
import { type AddressInfo, createServer } from 'node:net'
import { after, describe, it } from 'node:test'
import type { DspConfig } from '../../../config/config.js'
import type { DspFailureKind } from '../../../errors.js'
import { DspCall } from '../dsp-call.js'
import type { DspEndpoint } from '../dsp-endpoints.js'
import {
  freePort,
  type RawHandler,
  type RawHttpServer,
  rawResponse,
  startRawHttpServer,
} from '../testing/raw-http-server.js'
import { type BackoffOptions, SocketTransport } from './socket-transport.js'

interface Outcome {
  readonly status: number
  readonly failure: DspFailureKind | null
  readonly body: string | null
}

const HEADERS = ['content-type', 'application/json', 'x-openrtb-version', '2.6', 'accept-encoding', 'gzip']
const BODY = Buffer.from('{"id":"req-1","imp":[{"id":"1"}],"tmax":90}')

function newCall(maxResponseBytes = 64 * 1024): { call: DspCall; outcome: Promise<Outcome> } {
  let resolve!: (o: Outcome) => void
  const outcome = new Promise<Outcome>((r) => (resolve = r))
  const owner = {
    settle(c: DspCall): void {
      resolve({ status: c.status, failure: c.failure, body: c.body })
    },
  }
  const dsp = { config: { maxResponseBytes } } as unknown as DspEndpoint
  const now = performance.now()
  return { call: new DspCall(owner, dsp, 0, now, now + 1_000), outcome }
}

function send(transport: SocketTransport, body = BODY): Promise<Outcome> {
  const { call, outcome } = newCall()
  transport.send(body, call)
  return outcome
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const giveUpAt = performance.now() + timeoutMs
  while (!condition()) {
    if (performance.now() > giveUpAt) throw new Error(`timed out waiting for ${what}`)
    await sleep(2)
  }
}

const OK: Outcome = { status: 200, failure: null, body: '{"id":"req-1"}' }
const answerOk: RawHandler = (_req, socket) => void socket.write(rawResponse(200, '{"id":"req-1"}'))

describe('socket transport', () => {
  const servers: RawHttpServer[] = []
  const transports: SocketTransport[] = []
  async function server(handler: RawHandler = answerOk): Promise<RawHttpServer> {
    const s = await startRawHttpServer(handler)
    servers.push(s)
    return s
  }
  function transport(
    url: string,
    config: Partial<DspConfig> = {},
    backoff: BackoffOptions = { minMs: 100, maxMs: 1_000 },
  ): SocketTransport {
    const t = new SocketTransport(
      {
        id: 'dsp',
        endpoint: url,
        timeoutMs: 100,
        maxQps: 0,
        connections: 4,
        seat: 'dsp',
        gzipRequest: false,
        maxResponseBytes: 64 * 1024,
        ...config,
      },
      HEADERS,
      backoff,
    )
    transports.push(t)
    return t
  }
  after(async () => {
    for (const t of transports) await t.close()
    for (const s of servers) await s.close()
  })

  it('a request is the request line, host, the fixed headers, content-length and the body', async () => {
    const s = await server()
    const t = transport(`${s.url}?x=1`)
    assert.deepEqual(await send(t), OK)
    const request = s.requests[0]!
    assert.equal(
      request.head,
      `POST /bid?x=1 HTTP/1.1\r\nhost: 127.0.0.1:${s.port}\r\ncontent-type: application/json\r\n` +
        `x-openrtb-version: 2.6\r\naccept-encoding: gzip\r\ncontent-length: ${BODY.length}`,
    )
    assert.ok(request.body.equals(BODY))
  })

  it('keep-alive: content-length, chunked, 204, empty and error answers in turn, all on one connection', async () => {
    const answers = [
      rawResponse(200, '{"id":"req-1"}'),
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{"id"\r\n9\r\n:"req-1"}\r\n0\r\n\r\n',
      'HTTP/1.1 204 No Content\r\n\r\n',
      rawResponse(200, ''),
      rawResponse(503, 'overloaded'),
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 14\r\n\r\n{"id":"req-1"}',
    ]
    const s = await server(
      (req, socket) => void socket.write(answers[req.indexOnConnection % answers.length]!),
    )
    const t = transport(s.url)
    const outcomes: Outcome[] = []
    for (let i = 0; i < answers.length; i++) outcomes.push(await send(t))
    assert.deepEqual(outcomes, [
      OK,
      OK,
      { status: 204, failure: null, body: null },
      { status: 200, failure: null, body: null },
      { status: 503, failure: null, body: null },
      OK,
    ])
    assert.equal(s.accepted, 1)
    assert.deepEqual(t.stats, { opened: 1, closedByPeer: 0, closedByUs: 0, retried: 0 })
  })

  it('concurrent calls take separate connections up to the limit; more wait for a free one', async () => {
    const s = await server((_req, socket) =>
      setTimeout(() => socket.write(rawResponse(200, '{"id":"req-1"}')), 20),
    )
    const t = transport(s.url, { connections: 2 })
    const outcomes = await Promise.all([send(t), send(t), send(t), send(t), send(t)])
    assert.deepEqual(outcomes, [OK, OK, OK, OK, OK])
    assert.equal(s.accepted, 2)
    assert.equal(t.idleCount, 2)
  })

  it('a waiting call given up is skipped; the freed connection serves the next one', async () => {
    const held: (() => void)[] = []
    const s = await server((_req, socket) =>
      held.push(() => socket.write(rawResponse(200, '{"id":"req-1"}'))),
    )
    const t = transport(s.url, { connections: 1 })
    const a = newCall()
    const b = newCall()
    const c = newCall()
    t.send(BODY, a.call)
    t.send(BODY, b.call)
    t.send(BODY, c.call)
    b.call.expire(false)
    assert.equal((await b.outcome).failure, 'timeout')
    await waitFor(() => held.length === 1, 'the first request')
    held[0]!()
    assert.deepEqual(await a.outcome, OK)
    await waitFor(() => held.length === 2, 'the third request')
    held[1]!()
    assert.deepEqual(await c.outcome, OK)
    assert.equal(s.requests.length, 2, 'the given-up call was never sent')
  })

  it('the DSP closing an idle connection: the next call reconnects without failing', async () => {
    const s = await server((_req, socket) => {
      socket.write(rawResponse(200, '{"id":"req-1"}'))
      setTimeout(() => socket.end(), 10) // a short server keep-alive timeout
    })
    const t = transport(s.url)
    assert.deepEqual(await send(t), OK)
    await waitFor(() => t.openCount === 0, 'the idle connection to be dropped')
    assert.deepEqual(await send(t), OK)
    assert.equal(s.accepted, 2)
    assert.equal(t.stats.retried, 0)
  })

  it('a request that meets a connection the DSP closed while idle is sent again, once, on a fresh one', async () => {
    // The DSP closes a connection as the second request arrives on it: the race with its idle timeout.
    const s = await server((req, socket) => {
      if (req.indexOnConnection === 1) socket.destroy()
      else socket.write(rawResponse(200, '{"id":"req-1"}'))
    })
    const t = transport(s.url)
    assert.deepEqual(await send(t), OK)
    assert.deepEqual(await send(t), OK)
    assert.equal(t.stats.retried, 1)
    assert.deepEqual(
      s.requests.map((r) => [r.connection, r.indexOnConnection]),
      [
        [0, 0],
        [0, 1],
        [1, 0],
      ],
    )
  })

  it('no retry on a fresh connection, nor once an answer byte came back', async () => {
    const s = await server((_req, socket) => socket.destroy())
    const t = transport(s.url)
    assert.equal((await send(t)).failure, 'network')
    assert.equal(s.requests.length, 1)
    s.handle((req, socket) => {
      if (req.indexOnConnection === 0) socket.write(rawResponse(200, '{"id":"req-1"}'))
      else socket.end('HTTP/1.1 200 OK\r\ncontent-le')
    })
    await sleep(150) // past the backoff the dropped connection caused
    assert.deepEqual(await send(t), OK)
    assert.equal((await send(t)).failure, 'network')
    assert.equal(t.stats.retried, 0)
    assert.equal(s.requests.length, 3)
  })

  it('connection: close, HTTP/1.0 and a keep-alive hint under a second: the connection is not reused', async () => {
    const answers = [
      rawResponse(200, '{"id":"req-1"}', 'connection: close\r\n'),
      'HTTP/1.0 200 OK\r\ncontent-length: 14\r\n\r\n{"id":"req-1"}',
      rawResponse(200, '{"id":"req-1"}', 'keep-alive: timeout=1\r\n'),
      rawResponse(200, '{"id":"req-1"}', 'keep-alive: timeout=5\r\n'),
    ]
    const s = await server((_req, socket) => void socket.write(answers[s.accepted - 1]!))
    const t = transport(s.url)
    for (let i = 0; i < 5; i++) assert.deepEqual(await send(t), OK)
    assert.equal(s.accepted, 4, 'the last connection, hinted 5 s, is kept')
    assert.equal(t.keepAliveMs, 4_000)
  })

  it('bytes after a response or on an idle connection: the answer counts, the connection is dropped', async () => {
    const s = await server((req, socket) => {
      if (req.connection === 0) socket.write(`${rawResponse(200, '{"id":"req-1"}')}HTTP/1.1 200 OK\r\n`)
      else {
        socket.write(rawResponse(200, '{"id":"req-1"}'))
        setTimeout(() => socket.write('surprise'), 5)
      }
    })
    const t = transport(s.url)
    assert.deepEqual(await send(t), OK)
    assert.deepEqual(await send(t), OK)
    await waitFor(() => t.openCount === 0, 'the chatty connection to be dropped')
    assert.deepEqual(await send(t), OK)
    assert.equal(s.accepted, 3)
  })

  it('a bad answer is bad_response, one over the cap too_large (an error page over it stays http_status)', async () => {
    const answers = [
      'HTTP/1.1 2OO OK\r\ncontent-length: 0\r\n\r\n',
      rawResponse(200, 'x'.repeat(2_000)),
      rawResponse(500, 'x'.repeat(2_000)),
      rawResponse(200, '{"id":"req-1"}'),
    ]
    const s = await server((_req, socket) => void socket.write(answers[s.accepted - 1]!))
    const t = transport(s.url, { maxResponseBytes: 1_000 })
    const failures: unknown[] = []
    for (let i = 0; i < 4; i++) {
      const { call, outcome } = newCall(1_000)
      t.send(BODY, call)
      const o = await outcome
      failures.push(o.failure ?? o.status)
    }
    assert.deepEqual(failures, ['bad_response', 'too_large', 500, 200])
    assert.equal(s.accepted, 4, 'each failure closed its connection')
  })

  it('given up at the deadline: the connection is destroyed and the late answer lands nowhere', async () => {
    const s = await server((req, socket) => {
      const delayMs = req.connection === 0 ? 60 : 0
      setTimeout(() => socket.writable && socket.write(rawResponse(200, '{"id":"req-1"}')), delayMs)
    })
    const t = transport(s.url)
    const slow = newCall()
    t.send(BODY, slow.call)
    await sleep(10)
    slow.call.expire(false)
    assert.equal((await slow.outcome).failure, 'timeout')
    await waitFor(() => s.sockets.size === 0, 'the connection to be closed')
    assert.deepEqual(await send(t), OK)
    await sleep(80)
    assert.equal(t.stats.closedByUs, 1)
    assert.equal(t.openCount, 1)
  })

  it('connection refused: network at once, no connect attempts while backing off, then recovery', async () => {
    const port = await freePort()
    const t = transport(`http://127.0.0.1:${port}/bid`)
    assert.equal((await send(t)).failure, 'network')
    const { call, outcome } = newCall()
    t.send(BODY, call)
    assert.equal(call.isSettled, true, 'failed inside send(): no connect attempt while backing off')
    assert.equal((await outcome).failure, 'network')
    assert.equal(t.stats.opened, 1)
    const s = await startRawHttpServer(answerOk, port)
    servers.push(s)
    await sleep(150)
    assert.deepEqual(await send(t), OK)
  })

  it('a DSP that accepts then drops every connection: calls still try, the warm floor refills slowly', async () => {
    let accepted = 0
    const dropper = createServer((socket) => {
      accepted++
      socket.destroy()
    })
    await new Promise<void>((resolve) => dropper.listen(0, '127.0.0.1', resolve))
    const { port } = dropper.address() as AddressInfo
    try {
      const t = transport(`http://127.0.0.1:${port}/bid`)
      await t.warm(2)
      await sleep(400)
      // Without a backoff this would reconnect in a tight loop: thousands of connections.
      assert.ok(accepted < 20, `${accepted} connections in 400 ms`)
      const { call, outcome } = newCall()
      t.send(BODY, call)
      assert.equal(call.isSettled, false, 'the DSP is up: the call is tried, not failed in advance')
      assert.equal((await outcome).failure, 'network')
      await t.close()
    } finally {
      await new Promise<void>((resolve) => dropper.close(() => resolve()))
    }
  })

  it('warm opens connections without sending anything, and keeps that many open after the DSP drops them', async () => {
    const s = await server()
    const t = transport(s.url)
    await t.warm(3)
    await waitFor(() => s.sockets.size === 3, 'the server to accept 3')
    assert.equal(t.idleCount, 3)
    for (const socket of s.sockets) socket.destroy()
    await waitFor(() => s.accepted === 6 && t.idleCount === 3, 'the floor to be refilled')
    assert.equal(s.requests.length, 0)
    assert.equal(s.strayBytes, 0)
    assert.deepEqual(await send(t), OK)
    assert.equal(s.accepted, 6)
  })

  it('a connection idle past keepAliveMs is not reused', async () => {
    const s = await server()
    const t = transport(s.url, { keepAliveMs: 100 })
    assert.deepEqual(await send(t), OK)
    await sleep(150)
    assert.deepEqual(await send(t), OK)
    assert.equal(s.accepted, 2)
    assert.equal(t.stats.closedByUs, 1)
  })

  it('close(): calls in flight fail as network, and so do later ones', async () => {
    const s = await server(() => {})
    const t = transport(s.url)
    const pending = send(t)
    await waitFor(() => s.requests.length === 1, 'the request')
    await t.close()
    assert.equal((await pending).failure, 'network')
    assert.equal((await send(t)).failure, 'network')
    await waitFor(() => s.sockets.size === 0, 'the connection to be closed')
  })
})
