import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { DSP_FAILURE_KINDS, type DspFailureKind } from '../errors.js'
import type { BidRequest } from '../openrtb/types.js'
import type { CandidateBid } from '../pipeline/auction-context.js'
import { rejectBid } from '../stages/auction/rank-bids.js'
import { ADAPTERS } from '../stages/bid/adapters/adapter-registry.js'
import { readAnswer } from '../stages/bid/adapters/dsp-adapter.js'
import { parseBidResponse } from '../stages/bid/adapters/openrtb26/openrtb26-adapter.js'
import { type ParseResult, parseBidRequest, validateBidRequest } from '../stages/validate/validate-request.js'
import { jsonPaths, RICH_REQUEST, replaceAt } from './bad-bodies.js'

/*
 * Property-based fuzzing of the two parsers that read what outsiders send: the request validator
 * (publishers) and the DSP response parser (DSPs). Properties: they never throw, whatever the
 * input; a refusal names a field that exists in the input (or whose parent does); whatever the
 * validator accepts has the shape every later stage relies on (an oracle written here,
 * independently); what is valid by construction is accepted; the DSP parser returns well-formed
 * candidates or a failure kind.
 *
 * FUZZ_RUNS sets the cases per property (default 600: all properties in ~5 s, for CI);
 * FUZZ_SEED replays a run. A long run:
 *   npm run build && FUZZ_RUNS=100000 node --test dist/src/reliability/fuzz.test.js
 * Last long run (FUZZ_RUNS=100000, Node 20, 2 cores): the 12 passing properties tried 1,200,000
 * cases in 4 min 19 s and found nothing more. Found and fixed: the auction's bid check (rank-bids.ts
 * rejectBid) threw on a bid whose adomain, cat or attr was null, and walked a string adomain/cat
 * character by character (a blocked advertiser as a plain string got past badv); such bids are now
 * refused as malformed_field, and the last property below checks it. Also fixed: the validator
 * accepted a non-array site/app cat, pagecat or sectioncat, on which the decorate stage threw (the
 * auction ended in outcome "error"); the oracle below checks those lists since.
 */

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 600)
const SEED = process.env['FUZZ_SEED'] === undefined ? {} : { seed: Number(process.env['FUZZ_SEED']) }
const PARAMS = { numRuns: RUNS, ...SEED }

// --- The oracle: what a later stage may assume of an accepted request ---------------------------

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const isCount = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0
const isStrings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string')
const isNonEmptyString = (v: unknown) => typeof v === 'string' && v !== ''

/** Every broken assumption about an accepted request; empty when it is sound. */
function unsoundness(r: unknown): string[] {
  const bad: string[] = []
  const need = (ok: boolean, what: string) => {
    if (!ok) bad.push(what)
  }
  if (!isObj(r)) return ['not an object']
  need(isNonEmptyString(r['id']), 'id')
  const imps = r['imp']
  if (!Array.isArray(imps) || imps.length === 0) return [...bad, 'imp']
  const ids = new Set<unknown>()
  imps.forEach((imp, i) => {
    if (!isObj(imp)) {
      need(false, `imp[${i}] object`)
      return
    }
    need(isNonEmptyString(imp['id']) && !ids.has(imp['id']), `imp[${i}].id unique string`)
    ids.add(imp['id'])
    const media = ['banner', 'video', 'audio', 'native'].filter((m) => imp[m] !== undefined)
    need(media.length > 0, `imp[${i}] has media`)
    for (const m of media) need(isObj(imp[m]), `imp[${i}].${m} object`)
    const floor = imp['bidfloor']
    need(
      floor === undefined || (typeof floor === 'number' && floor >= 0 && floor < Infinity),
      `imp[${i}].bidfloor`,
    )
    need(imp['bidfloorcur'] === undefined || typeof imp['bidfloorcur'] === 'string', `imp[${i}].bidfloorcur`)
    const banner = imp['banner']
    if (isObj(banner)) {
      for (const k of ['w', 'h']) need(banner[k] === undefined || isCount(banner[k]), `imp[${i}].banner.${k}`)
      const format = banner['format']
      need(format === undefined || (Array.isArray(format) && format.every(isObj)), `imp[${i}].banner.format`)
      need(banner['battr'] === undefined || Array.isArray(banner['battr']), `imp[${i}].banner.battr`)
    }
    for (const m of ['video', 'audio']) {
      const v = imp[m]
      if (isObj(v))
        need(isStrings(v['mimes']) && (v['mimes'] as unknown[]).length > 0, `imp[${i}].${m}.mimes`)
    }
    const pmp = imp['pmp']
    if (pmp !== undefined) {
      need(isObj(pmp), `imp[${i}].pmp`)
      const deals = isObj(pmp) ? pmp['deals'] : undefined
      need(
        deals === undefined ||
          (Array.isArray(deals) && deals.every((d) => isObj(d) && isNonEmptyString(d['id']))),
        `imp[${i}].pmp.deals`,
      )
    }
  })
  need(r['tmax'] === undefined || isCount(r['tmax']), 'tmax')
  need(r['at'] === undefined || isCount(r['at']), 'at')
  need(r['cur'] === undefined || isStrings(r['cur']), 'cur')
  for (const k of ['bcat', 'badv', 'bapp', 'wseat', 'bseat']) need(r[k] === undefined || isStrings(r[k]), k)
  const channels = ['site', 'app', 'dooh'].filter((k) => r[k] !== undefined)
  need(channels.length <= 1, 'one channel')
  for (const k of channels) {
    const c = r[k]
    need(isObj(c), k)
    if (isObj(c))
      for (const l of ['cat', 'pagecat', 'sectioncat'])
        need(c[l] === undefined || isStrings(c[l]), `${k}.${l}`)
  }
  for (const k of ['device', 'user', 'regs', 'source', 'ext']) need(r[k] === undefined || isObj(r[k]), k)
  return bad
}

/**
 * A refusal names a field that is in the input, or whose parent is (a required field that is
 * missing): `imp[1].native.request.assets[0].id`, with the native request read from its string.
 */
function fieldResolves(input: unknown, field: string): boolean {
  if (field === 'body') return true
  const segments = field.match(/[^.[\]]+/g) ?? []
  let node: unknown = input
  for (let i = 0; i < segments.length - 1; i++) {
    if (typeof node === 'string') {
      try {
        node = JSON.parse(node)
      } catch {
        return false
      }
    }
    if (typeof node !== 'object' || node === null) return false
    node = (node as Obj)[segments[i]!]
  }
  return (typeof node === 'object' && node !== null) || typeof node === 'string'
}

function checkResult(input: unknown, result: ParseResult): void {
  if (result.ok) {
    assert.deepEqual(unsoundness(result.request), [], 'an accepted request is unsound')
    return
  }
  assert.ok(result.problem.field !== '', 'a refusal names no field')
  assert.ok(result.problem.message !== '', 'a refusal has no message')
  assert.ok(
    fieldResolves(input, result.problem.field),
    `the field ${result.problem.field} is not in the input`,
  )
}

/** parseBidRequest on text, checked against the JSON it holds (if any). */
function checkText(text: string): void {
  let input: unknown
  try {
    input = JSON.parse(text)
  } catch {
    input = undefined
  }
  checkResult(input, parseBidRequest(text))
}

// --- Arbitraries: valid requests by construction, and mutations of them -------------------------

const size = fc.integer({ min: 1, max: 4_000 })
const count = fc.nat({ max: 10_000 })
const str = fc.string({ maxLength: 12 })
const strings = fc.array(str, { maxLength: 4 })
const mimes = fc.array(fc.constantFrom('video/mp4', 'video/webm', 'audio/mp4', 'audio/mpeg'), {
  minLength: 1,
  maxLength: 3,
})
const flag = fc.constantFrom(0, 1)
const currency = fc.constantFrom('USD', 'EUR', 'GBP', 'JPY')
const floor = fc.double({ min: 0, max: 1_000, noNaN: true, noDefaultInfinity: true })
const ext = fc.dictionary(str, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 })

const format = fc.oneof(
  fc.record({ w: size, h: size }),
  fc.record({ wmin: size, wratio: size, hratio: size }),
)
const banner = fc.oneof(
  fc.record(
    { w: size, h: size, battr: fc.array(fc.integer({ min: 1, max: 17 })), pos: fc.nat(7) },
    { requiredKeys: ['w', 'h'] },
  ),
  fc.record({ format: fc.array(format, { minLength: 1, maxLength: 4 }), ext }, { requiredKeys: ['format'] }),
)
const video = fc.record(
  {
    mimes,
    w: count,
    h: count,
    minduration: count,
    maxduration: count,
    protocols: fc.array(fc.integer({ min: 1, max: 16 })),
  },
  { requiredKeys: ['mimes'] },
)
const audio = fc.record(
  { mimes, minduration: count, maxduration: count, sequence: count },
  { requiredKeys: ['mimes'] },
)
const asset = fc.oneof(
  fc.record({ title: fc.record({ len: fc.integer({ min: 1, max: 500 }) }) }),
  fc.record({
    img: fc.record({ type: fc.constantFrom(1, 3), w: count, h: count, wmin: count }, { requiredKeys: [] }),
  }),
  fc.record({
    data: fc.record({ type: fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 500, max: 600 })) }),
  }),
  fc.record({
    video: fc.record(
      { mimes, minduration: count, protocols: fc.array(fc.integer({ min: 1, max: 16 })) },
      { requiredKeys: ['mimes'] },
    ),
  }),
)
const contextAndSubtype = fc.oneof(
  fc.constant({}),
  fc.constantFrom(1, 2, 3).chain((context) =>
    fc.record({
      context: fc.constant(context),
      contextsubtype: fc.integer({ min: context * 10, max: context * 10 + 2 }),
      plcmttype: fc.integer({ min: 1, max: 4 }),
    }),
  ),
)
const nativeRequest = fc
  .tuple(contextAndSubtype, fc.array(asset, { minLength: 1, maxLength: 4 }), fc.boolean(), fc.boolean())
  .map(([placement, assets, numbered, wrapped]) => {
    const body = {
      ver: '1.2',
      ...placement,
      assets: numbered ? assets.map((a, i) => ({ id: i + 1, ...a })) : assets,
    }
    return wrapped ? { native: body } : body
  })
const native = fc
  .tuple(nativeRequest, fc.boolean())
  .map(([request, asString]) => ({ ver: '1.2', request: asString ? JSON.stringify(request) : request }))
const deal = fc.record(
  {
    id: fc.string({ minLength: 1, maxLength: 8 }),
    bidfloor: floor,
    bidfloorcur: currency,
    wseat: strings,
    wadomain: strings,
  },
  { requiredKeys: ['id'] },
)
const imp = fc
  .record(
    {
      banner,
      video,
      audio,
      native,
      bidfloor: floor,
      bidfloorcur: currency,
      instl: flag,
      secure: flag,
      tagid: str,
      pmp: fc.record(
        { private_auction: flag, deals: fc.array(deal, { maxLength: 3 }) },
        { requiredKeys: [] },
      ),
      ext,
    },
    { requiredKeys: [] },
  )
  .filter(
    (i) => i.banner !== undefined || i.video !== undefined || i.audio !== undefined || i.native !== undefined,
  )
const channel = fc.oneof(
  fc.constant({}),
  fc.record({
    site: fc.record(
      { domain: str, page: str, cat: strings, pagecat: strings, publisher: fc.record({ id: str }) },
      { requiredKeys: [] },
    ),
  }),
  fc.record({
    app: fc.record({ bundle: str, cat: strings, publisher: fc.record({ id: str }) }, { requiredKeys: [] }),
  }),
  fc.record({ dooh: fc.record({ id: str, venuetype: strings }, { requiredKeys: [] }) }),
)
const validRequest = fc
  .tuple(
    fc.string({ minLength: 1, maxLength: 16 }),
    fc.array(imp, { minLength: 1, maxLength: 4 }),
    fc.record(
      {
        tmax: count,
        at: fc.constantFrom(1, 2, 3, 500, 501),
        cur: fc.array(currency, { maxLength: 3 }),
        test: flag,
        allimps: flag,
        bcat: strings,
        badv: strings,
        bapp: strings,
        wseat: strings,
        device: fc.record(
          {
            ua: str,
            ip: str,
            w: count,
            h: count,
            ppi: count,
            geo: fc.record({ country: str, accuracy: count }, { requiredKeys: [] }),
          },
          { requiredKeys: [] },
        ),
        user: fc.record({ id: str, consent: str, ext: fc.record({ consent: str }) }, { requiredKeys: [] }),
        regs: fc.record({ gdpr: flag, coppa: flag, ext: fc.record({ gdpr: flag }) }, { requiredKeys: [] }),
        source: fc.record({ tid: str, ext }, { requiredKeys: [] }),
        ext,
      },
      { requiredKeys: [] },
    ),
    channel,
  )
  .map(([id, imps, rest, ch]) => ({
    id,
    imp: imps.map((i, n) => ({ ...i, id: String(n + 1) })),
    ...rest,
    ...ch,
  }))

/** A valid request with 1–3 fields replaced by arbitrary JSON values or removed. */
const mutatedRequest = fc
  .tuple(
    fc.oneof(validRequest, fc.constant(RICH_REQUEST as Obj)),
    fc.array(fc.tuple(fc.nat(), fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined })), {
      minLength: 1,
      maxLength: 3,
    }),
  )
  .map(([request, edits]) => {
    let value: unknown = request
    for (const [at, replacement] of edits) {
      const paths = jsonPaths(value)
      if (paths.length === 0) break
      const path = paths[at % paths.length]!
      value = JSON.parse(
        replaceAt(value, path, replacement === undefined ? null : JSON.stringify(replacement)),
      )
    }
    return JSON.stringify(value)
  })

/** Text made of JSON's own tokens in any order: reaches JSON.parse's error paths and, sometimes, the validator. */
const tokenSoup = fc
  .array(
    fc.constantFrom(
      '{',
      '}',
      '[',
      ']',
      ',',
      ':',
      '"id"',
      '"imp"',
      '"banner"',
      '"w"',
      '"x"',
      '1',
      '-0',
      '1e309',
      'null',
      'true',
      ' ',
      '"\\u',
      '\\',
      '"',
    ),
    { maxLength: 60 },
  )
  .map((tokens) => tokens.join(''))

describe('fuzz: request parser and validator', () => {
  it('any string: never throws; a refusal names a field', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), checkText), PARAMS)
  })

  it('any bytes, decoded as UTF-8 and as latin1', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        checkText(Buffer.from(bytes).toString('utf8'))
        checkText(Buffer.from(bytes).toString('latin1'))
      }),
      PARAMS,
    )
  })

  it('any JSON text (fc.json) and any JSON value (fc.jsonValue)', () => {
    fc.assert(
      fc.property(fc.json(), fc.jsonValue(), (text, value) => {
        checkText(text)
        checkText(JSON.stringify(value) ?? 'null')
      }),
      PARAMS,
    )
  })

  it('token soup: any sequence of JSON tokens', () => {
    fc.assert(fc.property(tokenSoup, checkText), PARAMS)
  })

  it('validateBidRequest on any JavaScript value (fc.anything, non-JSON shapes included)', () => {
    const anything = fc.anything({
      withBoxedValues: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withBigInt: true,
      withDate: true,
      withTypedArray: true,
      withSparseArray: true,
      withObjectString: true,
    })
    fc.assert(
      fc.property(anything, (value) => {
        const result = validateBidRequest(value)
        if (!result.ok) assert.ok(result.problem.field !== '' && result.problem.message !== '')
      }),
      PARAMS,
    )
  })

  it('any object with OpenRTB keys holding arbitrary values', () => {
    const junk = fc.jsonValue({ maxDepth: 3 })
    const shaped = fc.record(
      {
        id: junk,
        imp: fc.oneof(
          junk,
          fc.array(
            fc.dictionary(
              fc.constantFrom('id', 'banner', 'video', 'audio', 'native', 'pmp', 'bidfloor'),
              junk,
            ),
          ),
        ),
        tmax: junk,
        at: junk,
        cur: junk,
        site: junk,
        app: junk,
        dooh: junk,
        device: junk,
        user: junk,
        regs: junk,
        source: junk,
        bcat: junk,
      },
      { requiredKeys: [] },
    )
    fc.assert(
      fc.property(shaped, (value) => checkText(JSON.stringify(value))),
      PARAMS,
    )
  })

  it('valid requests built by an arbitrary are always accepted', () => {
    fc.assert(
      fc.property(validRequest, (request) => {
        const result = parseBidRequest(JSON.stringify(request))
        assert.ok(result.ok, result.ok ? '' : `${result.problem.field}: ${result.problem.message}`)
        assert.deepEqual(unsoundness(result.request), [])
      }),
      PARAMS,
    )
  })

  it('valid requests with 1-3 fields replaced or removed: never throws, sound when accepted', () => {
    fc.assert(fc.property(mutatedRequest, checkText), PARAMS)
  })
})

// --- The DSP response parser ---------------------------------------------------------------------

const REQUEST = {
  id: 'auction-1',
  imp: [
    { id: '1', banner: { w: 300, h: 250 } },
    { id: '2', video: { mimes: ['video/mp4'] } },
    { id: '3', banner: { w: 728, h: 90 } },
  ],
  badv: ['blocked.example'],
  bcat: ['IAB25'],
} as unknown as BidRequest
const DSP_INDEX = 2
const DEFAULT_SEAT = 'default-seat'

function checkCandidates(result: readonly CandidateBid[] | DspFailureKind): void {
  if (typeof result === 'string') {
    assert.ok(DSP_FAILURE_KINDS.includes(result), `unknown failure ${result}`)
    assert.notEqual(result, 'adapter_threw', 'the adapter threw')
    return
  }
  assert.ok(Array.isArray(result))
  for (const c of result) {
    assert.ok(
      Number.isInteger(c.impIndex) && c.impIndex >= -1 && c.impIndex < REQUEST.imp.length,
      `impIndex ${c.impIndex}`,
    )
    assert.equal(c.dspIndex, DSP_INDEX)
    assert.ok(typeof c.seat === 'string' && c.seat !== '', 'seat')
    assert.equal(typeof c.price, 'number')
    assert.ok(typeof c.bid === 'object' && c.bid !== null, 'bid')
    assert.ok(c.responseBidId === null || typeof c.responseBidId === 'string', 'responseBidId')
  }
}

/** Every adapter reads the HTTP answer (status, text) without throwing. */
function checkAnswer(status: number, text: string | null): void {
  for (const adapter of ADAPTERS)
    checkCandidates(readAnswer(adapter, status, text, REQUEST, DSP_INDEX, DEFAULT_SEAT, 'USD'))
}

const validBid = fc.record(
  {
    id: fc.string({ minLength: 1, maxLength: 8 }),
    impid: fc.constantFrom('1', '2', '3'),
    price: fc.double({ min: 0.01, max: 100, noNaN: true }),
    adm: fc.string({ maxLength: 20 }),
    nurl: fc.webUrl(),
    adomain: fc.array(fc.domain(), { maxLength: 2 }),
    cat: fc.array(fc.constantFrom('IAB1', 'IAB2', 'IAB3-1'), { maxLength: 2 }),
    attr: fc.array(fc.integer({ min: 1, max: 17 }), { maxLength: 2 }),
    crid: fc.string({ maxLength: 8 }),
    ext,
  },
  { requiredKeys: ['id', 'impid', 'price', 'adm'] },
)
const validResponse = fc.record(
  {
    id: fc.constant(REQUEST.id),
    cur: fc.constant('USD'),
    bidid: str,
    seatbid: fc.array(
      fc.record(
        { seat: str, bid: fc.array(validBid, { minLength: 1, maxLength: 3 }) },
        { requiredKeys: ['bid'] },
      ),
      {
        minLength: 1,
        maxLength: 3,
      },
    ),
  },
  { requiredKeys: ['seatbid'] },
)
const mutatedResponse = fc
  .tuple(
    validResponse,
    fc.array(fc.tuple(fc.nat(), fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined })), {
      minLength: 1,
      maxLength: 3,
    }),
  )
  .map(([response, edits]) => {
    let value: unknown = response
    for (const [at, replacement] of edits) {
      const paths = jsonPaths(value)
      if (paths.length === 0) break
      value = JSON.parse(
        replaceAt(
          value,
          paths[at % paths.length]!,
          replacement === undefined ? null : JSON.stringify(replacement),
        ),
      )
    }
    return value
  })
const status = fc.oneof(fc.constantFrom(200, 204), fc.integer({ min: 0, max: 999 }))

describe('fuzz: DSP response parser', () => {
  it('any value (fc.anything): parseBidResponse never throws and returns candidates or a failure', () => {
    const anything = fc.anything({
      withBoxedValues: true,
      withNullPrototype: true,
      withSparseArray: true,
      withBigInt: true,
    })
    fc.assert(
      fc.property(anything, (body) => {
        checkCandidates(parseBidResponse(body, REQUEST, DSP_INDEX, DEFAULT_SEAT, 'USD'))
      }),
      PARAMS,
    )
  })

  it('any status and text, any JSON, token soup: readAnswer never reports adapter_threw', () => {
    fc.assert(
      fc.property(
        status,
        fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.json(), tokenSoup),
        checkAnswer,
      ),
      PARAMS,
    )
  })

  it('valid answers give one candidate per bid, on the imp it names, with its seat', () => {
    fc.assert(
      fc.property(validResponse, (response) => {
        const result = parseBidResponse(response, REQUEST, DSP_INDEX, DEFAULT_SEAT, 'USD')
        assert.ok(Array.isArray(result), `refused: ${String(result)}`)
        const bids = response.seatbid.flatMap((s) => s.bid.map((b) => ({ b, seat: s.seat })))
        assert.equal(result.length, bids.length)
        result.forEach((c, i) => {
          assert.equal(c.impIndex, Number(bids[i]!.b.impid) - 1)
          assert.equal(c.price, bids[i]!.b.price)
          assert.equal(c.seat, bids[i]!.seat || DEFAULT_SEAT)
        })
      }),
      PARAMS,
    )
  })

  it('valid answers with 1-3 fields replaced or removed: candidates or a failure, never a throw', () => {
    fc.assert(
      fc.property(status, mutatedResponse, (code, response) => {
        checkCandidates(parseBidResponse(response, REQUEST, DSP_INDEX, DEFAULT_SEAT, 'USD'))
        checkAnswer(code, JSON.stringify(response))
      }),
      PARAMS,
    )
  })

  it("every candidate the parser returns can be judged by the auction's bid check without a throw", () => {
    fc.assert(
      fc.property(mutatedResponse, (response) => {
        const result = parseBidResponse(response, REQUEST, DSP_INDEX, DEFAULT_SEAT, 'USD')
        if (typeof result === 'string') return
        for (const c of result) rejectBid(c, REQUEST, 0, null)
      }),
      PARAMS,
    )
  })
})
