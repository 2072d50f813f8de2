import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it, type TestContext } from 'node:test'
import { type ChildExchange, startChildExchange } from '../testing/child-exchange.js'
import { bidResponse, type MockDsp, startMockDsp } from '../testing/mock-dsp.js'
import { listJson, sharedFixturesDir, skipUnlessShared } from '../testing/shared-fixtures.js'
import { startTestExchange, type TestExchange } from '../testing/test-exchange.js'
import {
  type BadBody,
  deepNesting,
  encodingOddities,
  hugeArrays,
  numberEdges,
  RICH_REQUEST,
  replaceAt,
  truncations,
  WRONG_VALUES,
  wrongTypes,
} from './bad-bodies.js'
import {
  ALLOWED_AUCTION_STATUSES,
  assertServing,
  countAbove,
  forEachLimited,
  ProcessWatch,
  post,
  requiredSample,
  sampleValue,
} from './invariants.js'

/*
 * Bad input over HTTP against a real exchange: every JSON file of ../shared/fixtures (requests,
 * responses, fragments: whatever arrives must be answered), then generated malformed bodies, then
 * malformed DSP answers. Each answer must be 200, 204, 400 or 413, within the hang limit;
 * afterwards the exchange still serves, no request body ended in the pipeline's catch-all (outcome
 * "error": a stage threw), and no unhandled error reached the process. The same bodies, sampled,
 * then go to the built exchange in its own process, which must still be running, and where no
 * answer may come after its deadline plus a margin (on the exchange's own clock: in-process, the
 * test's client shares the event loop, and its pauses would be charged to the exchange).
 *
 * The body limit is raised to 1 MiB so that 10k imps reach the validator (at the default 256 KiB
 * no 10k-imp request fits); 100k imps and the 2 MB array are still refused at the door with 413.
 * Event-loop shedding is off: a single heavy body (100k-deep nesting, 10k imps) blocks the loop
 * past the 40 ms lag limit, and the request right after it is then shed (503) by design; shedding
 * is the overload suite's subject, not this one's.
 */

const MAX_BODY_BYTES = 1 << 20
/** The deadline of a tmax-100 auction (98 ms) plus margin: server-side, in its own process. */
const LATE_BUCKET = '0.15'
const NO_LAG_SHEDDING = { maxInFlight: 2_000, maxEventLoopLagMs: 10_000 }

/** A DSP that bids on every imp of ordinary requests; a test can dictate its next answers. */
interface ScriptedDsp {
  readonly dsp: MockDsp
  /** Answers requests whose id is a key with the body given (200), once. */
  readonly scripted: Map<string, string>
}

async function startScriptedDsp(): Promise<ScriptedDsp> {
  const scripted = new Map<string, string>()
  const dsp = await startMockDsp((r) => {
    const id = String(r['id'])
    const body = scripted.get(id)
    if (body !== undefined) {
      scripted.delete(id)
      return { kind: 'respond', status: 200, body }
    }
    const imps = Array.isArray(r['imp']) ? (r['imp'] as { id?: unknown }[]) : []
    // Big requests get a no-bid: a 10k-bid answer would only measure the mock's own JSON work.
    if (imps.length > 50) return { kind: 'respond', status: 204 }
    return {
      kind: 'respond',
      status: 200,
      body: bidResponse(
        r['id'],
        imps.map((imp) => ({ impid: String(imp.id), price: 5, adomain: ['a.example'] })),
      ),
    }
  })
  return { dsp, scripted }
}

/** Every JSON file of the shared fixtures as a body; a Prebid fixture also as its request. */
function fixtureBodies(dir: string): BadBody[] {
  const out: BadBody[] = []
  for (const file of listJson(dir, dir).sort()) {
    const text = readFileSync(join(dir, file), 'utf8')
    out.push({ label: file, body: text })
    const parsed = JSON.parse(text) as { mockBidRequest?: unknown }
    if (parsed.mockBidRequest !== undefined) {
      const request = parsed.mockBidRequest
      out.push({
        label: `${file} (mockBidRequest)`,
        body: typeof request === 'string' ? request : JSON.stringify(request),
      })
    }
  }
  return out
}

function generatedBodies(): Record<string, BadBody[]> {
  return {
    truncations: truncations(JSON.stringify(RICH_REQUEST)),
    'wrong types': wrongTypes(RICH_REQUEST),
    'deep nesting': deepNesting(RICH_REQUEST),
    'huge arrays': hugeArrays(RICH_REQUEST),
    encodings: encodingOddities(RICH_REQUEST),
    numbers: numberEdges(RICH_REQUEST),
  }
}

interface Tally {
  readonly statuses: Map<number, number>
  /** The slowest round trip and its body, for the diagnostics. */
  slowest: { label: string; ms: number }
}

/** Sends every body; counts the statuses. Any status outside the allowed ones fails at once, named. */
async function sendAll(url: string, bodies: readonly BadBody[], concurrency = 4): Promise<Tally> {
  const tally: Tally = { statuses: new Map(), slowest: { label: '', ms: 0 } }
  await forEachLimited(bodies, concurrency, async ({ label, body }) => {
    const answer = await post(`${url}/openrtb2/auction`, body, label)
    assert.ok(
      ALLOWED_AUCTION_STATUSES.includes(answer.status),
      `${label}: ${answer.status} ${answer.text.slice(0, 200)}`,
    )
    tally.statuses.set(answer.status, (tally.statuses.get(answer.status) ?? 0) + 1)
    if (answer.ms > tally.slowest.ms) tally.slowest = { label, ms: answer.ms }
  })
  return tally
}

function summary(tally: Tally): string {
  const counts = [...tally.statuses].map(([s, n]) => `${s}×${n}`).join(' ')
  return `${counts}; slowest ${tally.slowest.ms.toFixed(1)} ms (${tally.slowest.label})`
}

describe('bad input over HTTP: in-process exchange', () => {
  let watch: ProcessWatch
  let scripted: ScriptedDsp
  let ex: TestExchange
  before(async () => {
    watch = new ProcessWatch()
    scripted = await startScriptedDsp()
    ex = await startTestExchange({
      maxBodyBytes: MAX_BODY_BYTES,
      overload: NO_LAG_SHEDDING,
      dsps: [{ id: 'bidder', endpoint: scripted.dsp.url, timeoutMs: 80 }],
    })
  })
  after(async () => {
    await ex?.close()
    await scripted?.dsp.close()
    watch?.stop()
  })

  const errors = async () =>
    sampleValue(await ex.app.metrics.scrape(), 'rtb_auctions_total', { outcome: 'error' })

  /** Sends the bodies; fails naming the bodies whose auction ended in outcome "error", if any. */
  async function sendChecked(t: TestContext, bodies: readonly BadBody[]): Promise<void> {
    const before = await errors()
    const tally = await sendAll(ex.url, bodies)
    t.diagnostic(`${bodies.length} bodies: ${summary(tally)}`)
    if ((await errors()) === before) return
    // Rare path: replay one at a time to name the culprits.
    const culprits: string[] = []
    for (const { label, body } of bodies) {
      const was = await errors()
      await post(`${ex.url}/openrtb2/auction`, body, label)
      if ((await errors()) !== was) culprits.push(label)
      if (culprits.length >= 10) break
    }
    assert.fail(`auctions ended in outcome "error" (a stage threw) for: ${culprits.join('; ')}`)
  }

  it('the rich base request is valid and sells', async () => {
    const answer = await post(`${ex.url}/openrtb2/auction`, JSON.stringify(RICH_REQUEST), 'base')
    assert.equal(answer.status, 200, answer.text)
  })

  it('every JSON file under ../shared/fixtures, sent as a body', async (t) => {
    const dir = skipUnlessShared(t)
    if (dir === null) return
    const bodies = fixtureBodies(dir)
    assert.ok(bodies.length >= 150, `only ${bodies.length} fixture bodies`)
    await sendChecked(t, bodies)
  })

  for (const [name, bodies] of Object.entries(generatedBodies())) {
    it(`generated: ${name}`, async (t) => {
      await sendChecked(t, bodies)
    })
  }

  it('DSP answers: fixtures, every bid field wrong-typed, deep nesting, truncations', async (t) => {
    const answers = dspAnswers()
    let delivered = 0
    let n = 0
    const tally: Tally = { statuses: new Map(), slowest: { label: '', ms: 0 } }
    for (const { label, body } of answers) {
      // Two ordinary auctions per bad answer keep the DSP's error rate under the breaker's and the
      // throttle's thresholds, so (nearly) every bad answer is actually delivered.
      for (let attempt = 0; attempt < 5; attempt++) {
        const id = `dsp-case-${n++}`
        scripted.scripted.set(id, body.toString().replaceAll('@@request-id@@', id))
        const request = JSON.stringify({ ...SIMPLE_REQUEST, id })
        const answer = await post(`${ex.url}/openrtb2/auction`, request, `DSP answer ${label}`)
        assert.ok(answer.status === 200 || answer.status === 204, `DSP answer ${label}: ${answer.status}`)
        tally.statuses.set(answer.status, (tally.statuses.get(answer.status) ?? 0) + 1)
        if (answer.ms > tally.slowest.ms) tally.slowest = { label, ms: answer.ms }
        const wasCalled = !scripted.scripted.has(id)
        scripted.scripted.delete(id)
        for (let i = 0; i < 2; i++) {
          const good = await post(`${ex.url}/openrtb2/auction`, JSON.stringify(SIMPLE_REQUEST), 'good')
          assert.equal(good.status, 200, `an ordinary auction after DSP answer ${label}: ${good.status}`)
        }
        if (wasCalled) {
          delivered++
          break
        }
      }
    }
    t.diagnostic(`${answers.length} DSP answers, ${delivered} delivered: ${summary(tally)}`)
    assert.ok(
      delivered >= answers.length * 0.9,
      `only ${delivered} of ${answers.length} reached the exchange`,
    )
  })

  it('afterwards: still serving, nothing left in flight, no unhandled error', async () => {
    await assertServing(ex.url, 'after all bad input')
    const text = await ex.app.metrics.scrape()
    assert.equal(requiredSample(text, 'rtb_auctions_in_flight'), 0, 'in-flight auctions left over')
    // No auction of this file, request-side or DSP-side, may end as an internal error (a bid with a
    // null adomain/cat/attr once did: rank-bids.ts now refuses it as malformed_field).
    assert.equal(
      sampleValue(text, 'rtb_auctions_total', { outcome: 'error' }),
      0,
      'auctions ended in "error"',
    )
    watch.assertClean()
  })
})

const SIMPLE_REQUEST = {
  id: 'simple',
  tmax: 100,
  badv: ['blocked.example'],
  bcat: ['IAB25'],
  imp: [{ id: '1', banner: { w: 300, h: 250, battr: [1] } }],
  site: { domain: 'news.example', page: 'https://news.example/a' },
  device: { ua: 'Mozilla/5.0', ip: '203.0.113.9' },
}

/** A DSP answer that would win SIMPLE_REQUEST; `@@request-id@@` becomes the auction's id. */
const GOOD_ANSWER = {
  id: '@@request-id@@',
  cur: 'USD',
  bidid: 'r1',
  seatbid: [
    {
      seat: 'seat-1',
      bid: [
        {
          id: 'b1',
          impid: '1',
          price: 5,
          adm: '<div>${AUCTION_PRICE}</div>',
          nurl: 'https://dsp.example/win?p=${AUCTION_PRICE}',
          burl: 'https://dsp.example/bill',
          lurl: 'https://dsp.example/loss',
          adomain: ['a.example'],
          cat: ['IAB1'],
          attr: [2],
          crid: 'c1',
          adid: 'ad1',
          w: 300,
          h: 250,
          ext: {},
        },
      ],
    },
  ],
}

/** Bodies a DSP might send back: shared fixtures (as they are, and adopted), wrong types, nesting. */
function dspAnswers(): BadBody[] {
  const out: BadBody[] = []
  const dir = sharedFixturesDir()
  if (dir !== null) {
    for (const file of listJson(dir, dir).sort()) {
      if (!/response|no-bid|pod-bidding/.test(file)) continue
      const text = readFileSync(join(dir, file), 'utf8')
      out.push({ label: file, body: text })
      out.push({ label: `${file} (adopted)`, body: adopt(JSON.parse(text)) })
    }
  }
  const wrongs = WRONG_VALUES.filter((v) => v.length < 1_000)
  out.push(...wrongTypes(GOOD_ANSWER, wrongs).map((b) => ({ ...b, label: `answer ${b.label}` })))
  for (const depth of [1_000, 10_000]) {
    out.push({
      label: `bid.ext nested ${depth} deep`,
      body: replaceAt(
        GOOD_ANSWER,
        ['seatbid', 0, 'bid', 0, 'ext'],
        `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
      ),
    })
  }
  const good = JSON.stringify(GOOD_ANSWER)
  for (let end = 0; end < good.length; end += 17)
    out.push({ label: `answer cut at ${end}`, body: good.slice(0, end) })
  for (const raw of [
    'null',
    '[]',
    '"x"',
    '0',
    '{}',
    '{"seatbid":{}}',
    '{"seatbid":[null]}',
    '{"seatbid":[{"bid":{}}]}',
  ]) {
    out.push({ label: `answer ${raw}`, body: raw })
  }
  return out
}

/** A fixture answer made to fit SIMPLE_REQUEST: its id, imp "1", USD. */
function adopt(value: unknown): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value)
  const res: Record<string, unknown> = {
    ...(value as Record<string, unknown>),
    id: '@@request-id@@',
    cur: 'USD',
  }
  if (Array.isArray(res['seatbid'])) {
    res['seatbid'] = res['seatbid'].map((seat: { bid?: unknown }) => ({
      ...seat,
      bid: Array.isArray(seat.bid) ? seat.bid.map((b: object) => ({ ...b, impid: '1' })) : seat.bid,
    }))
  }
  return JSON.stringify(res)
}

describe('bad input over HTTP: the built exchange in its own process', () => {
  let scripted: ScriptedDsp
  let child: ChildExchange
  before(async () => {
    scripted = await startScriptedDsp()
    child = await startChildExchange({
      maxBodyBytes: MAX_BODY_BYTES,
      overload: NO_LAG_SHEDDING,
      dsps: [{ id: 'bidder', endpoint: scripted.dsp.url, timeoutMs: 80 }],
    })
  })
  after(async () => {
    child?.kill('SIGKILL')
    await scripted?.dsp.close()
  })

  it('a sample of every kind of bad body; the process survives and answers by the deadline', async (t) => {
    const generated = generatedBodies()
    const every = (list: readonly BadBody[], n: number) => list.filter((_, i) => i % n === 0)
    const bodies = [
      ...(sharedFixturesDir() === null ? [] : fixtureBodies(sharedFixturesDir()!)),
      ...every(generated['truncations']!, 13),
      ...every(generated['wrong types']!, 11),
      ...generated['deep nesting']!,
      ...generated['huge arrays']!,
      ...generated['encodings']!,
      ...generated['numbers']!,
    ]
    // Sequential: the deadline is checked on the exchange's clock, without our own burst in it.
    const tally = await sendAll(child.url, bodies, 1)
    t.diagnostic(`${bodies.length} bodies: ${summary(tally)}`)

    // The two DSP answers that once took the exchange down or ended the auction in error.
    for (const [label, path, raw] of [
      ['bid.ext nested 10k deep', ['ext'], `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`],
      ['bid.adomain null', ['adomain'], 'null'],
    ] as const) {
      const id = `child-${label}`
      scripted.scripted.set(
        id,
        replaceAt(GOOD_ANSWER, ['seatbid', 0, 'bid', 0, ...path], raw).replace('@@request-id@@', id),
      )
      const answer = await post(
        `${child.url}/openrtb2/auction`,
        JSON.stringify({ ...SIMPLE_REQUEST, id }),
        label,
      )
      assert.ok(answer.status === 200 || answer.status === 204, `${label}: ${answer.status}`)
      assert.equal(scripted.scripted.has(id), false, `${label}: the DSP was not called`)
    }

    await assertServing(child.url, 'after all bad input')
    assert.equal(child.child.exitCode, null, `the exchange exited:\n${child.output().slice(-2_000)}`)
    const text = await (await fetch(`${child.url}/metrics`)).text()
    const late = countAbove(text, 'rtb_auction_duration_seconds', LATE_BUCKET)
    assert.equal(late, 0, `${late} answers after ${LATE_BUCKET} s (deadline 98 ms)`)
    assert.equal(requiredSample(text, 'rtb_auctions_in_flight'), 0, 'in-flight auctions left over')
  })
})
