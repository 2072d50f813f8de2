import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startChildExchange } from '../testing/child-exchange.js'
import { bidResponse, type MockDsp, startMockDsp, waitForCalls } from '../testing/mock-dsp.js'
import { skipUnlessRedis, startRedisServer } from '../testing/redis-server.js'
import { bannerRequest } from '../testing/test-exchange.js'

const post = (url: string, body: unknown) =>
  fetch(`${url}/openrtb2/auction`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })

/** The exchange as its own process: graceful shutdown and worker threads. */
describe('process lifecycle', () => {
  let dsp: MockDsp
  before(async () => {
    dsp = await startMockDsp((r) => ({
      kind: 'respond',
      status: 200,
      delayMs: 40,
      body: bidResponse(r['id'], [{ impid: '1', price: 1 }]),
    }))
  })
  after(() => dsp.close())

  it('SIGTERM: in-flight auctions finish, new connections are refused, exit code 0', async (t) => {
    const ex = await startChildExchange({ dsps: [{ id: 'slow', endpoint: dsp.url, timeoutMs: 90 }] })
    t.after(() => ex.kill('SIGKILL'))
    const callsBefore = dsp.calls.length
    const inFlight = [post(ex.url, bannerRequest({ id: 'a' })), post(ex.url, bannerRequest({ id: 'b' }))]
    // In flight for sure once the DSP has both calls (it answers 40 ms later).
    await waitForCalls(dsp, callsBefore + 2)
    ex.kill('SIGTERM')
    // Both answered in full (a bid, or a no-bid if the busy machine made the DSP late): none cut off.
    const answers = await Promise.all(inFlight)
    for (const a of answers) {
      assert.ok(a.status === 200 || a.status === 204, `status ${a.status}`)
      await a.arrayBuffer()
    }
    assert.equal(await ex.exited, 0, ex.output())
    await assert.rejects(fetch(`${ex.url}/healthz`))
    assert.match(ex.output(), /"msg":"draining"/)
    assert.match(ex.output(), /"msg":"stopped"/)
  })

  it('SIGINT drains the same way', async (t) => {
    const ex = await startChildExchange({ dsps: [] })
    t.after(() => ex.kill('SIGKILL'))
    ex.kill('SIGINT')
    assert.equal(await ex.exited, 0, ex.output())
  })

  it('WORKERS=2: one port, every auction served, /metrics merged over both workers, clean exit', async (t) => {
    // Worker threads share data through Dragonfly (a real redis-server here), never an embedded store.
    if (!skipUnlessRedis(t)) return
    const redis = await startRedisServer()
    t.after(() => redis.stop())
    const ex = await startChildExchange(
      { dsps: [{ id: 'slow', endpoint: dsp.url, timeoutMs: 90 }] },
      { WORKERS: '2', DRAGONFLY_URL: redis.url },
    )
    t.after(() => ex.kill('SIGKILL'))
    // Separate connections, so the kernel spreads them over both listening threads.
    const n = 24
    const answers = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        fetch(`${ex.url}/openrtb2/auction`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', connection: 'close' },
          body: JSON.stringify(bannerRequest({ id: `w${i}` })),
        }),
      ),
    )
    assert.ok(answers.every((a) => a.status === 200))
    // Each worker counts its own auctions; a scrape (whichever worker gets it) reports their sum.
    for (let i = 0; i < 3; i++) {
      const text = await (await fetch(`${ex.url}/metrics`, { headers: { connection: 'close' } })).text()
      assert.match(text, new RegExp(`rtb_auctions_total\\{outcome="bid"\\} ${n}\\n`))
      assert.match(text, /process_cpu_seconds_total \d/)
      assert.match(text, /\nrtb_workers 2\n/)
    }
    ex.kill('SIGTERM')
    assert.equal(await ex.exited, 0, ex.output())
  })
})
