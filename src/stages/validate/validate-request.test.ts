import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ISO_4217_CODES } from './currency-codes.js'
import { type ParseResult, parseBidRequest, validateBidRequest } from './validate-request.js'

type Json = Record<string, unknown>

/** Marks a field to delete in `withField`. */
const ABSENT = Symbol('absent')

function baseRequest(): Json {
  return {
    id: 'req-1',
    imp: [{ id: '1', banner: { w: 300, h: 250 } }],
    site: { id: 'site-1', page: 'https://news.example/a' },
  }
}

/** A copy of `from` with the dotted `path` (`imp.0.banner.w`) set to `value`, or deleted with ABSENT. */
function withField(path: string, value: unknown, from: Json = baseRequest()): Json {
  const copy = structuredClone(from)
  const keys = path.split('.')
  let node = copy
  for (const key of keys.slice(0, -1)) {
    node[key] ??= {}
    node = node[key] as Json
  }
  const last = keys.at(-1)!
  if (value === ABSENT) delete node[last]
  else node[last] = value
  return copy
}

function baseNative(): Json {
  return { ver: '1.2', context: 1, plcmttype: 1, assets: [{ id: 1, title: { len: 90 } }] }
}

/** A bid request whose only imp carries `native` as its Native request (JSON-encoded, as the spec sends it). */
function nativeRequest(native: Json): Json {
  return { ...baseRequest(), imp: [{ id: '1', native: { request: JSON.stringify(native) } }] }
}

function withNative(path: string, value: unknown): Json {
  return nativeRequest(withField(path, value, baseNative()))
}

function assertProblem(result: ParseResult, field: string): void {
  assert.equal(result.ok, false, `expected a problem at ${field}`)
  if (result.ok) return
  assert.equal(result.problem.field, field)
  assert.ok(result.problem.message.length > 0)
}

function assertOk(result: ParseResult): void {
  assert.equal(result.ok, true, result.ok ? '' : `${result.problem.field}: ${result.problem.message}`)
}

/** [name, request, field of the expected problem] */
type Case = readonly [string, unknown, string]

function runCases(cases: readonly Case[]): void {
  for (const [name, request, field] of cases) {
    it(`${name} -> ${field}`, () => assertProblem(validateBidRequest(request), field))
  }
}

describe('parseBidRequest', () => {
  it('parses and validates a good request', () => {
    const result = parseBidRequest(JSON.stringify(baseRequest()))
    assertOk(result)
    if (result.ok) assert.equal(result.request.id, 'req-1')
  })

  it('malformed JSON is a problem with the body', () => {
    assertProblem(parseBidRequest('{"id":'), 'body')
    assertProblem(parseBidRequest('malformed'), 'body')
    assertProblem(parseBidRequest(''), 'body')
  })

  it('JSON that is not an object is a problem with the body', () => {
    for (const text of ['null', '[]', '"req"', '42', 'true']) assertProblem(parseBidRequest(text), 'body')
  })
})

describe('validateBidRequest: request', () => {
  runCases([
    ['null body', null, 'body'],
    ['array body', [baseRequest()], 'body'],
    ['string body', 'req', 'body'],
    ['number body', 1, 'body'],
    ['missing id', withField('id', ABSENT), 'id'],
    ['numeric id', withField('id', 42), 'id'],
    ['empty id', withField('id', ''), 'id'],
    ['missing imp', withField('imp', ABSENT), 'imp'],
    ['imp not an array', withField('imp', { id: '1' }), 'imp'],
    ['empty imp', withField('imp', []), 'imp'],
    ['tmax negative', withField('tmax', -2), 'tmax'],
    ['tmax not an integer', withField('tmax', 99.5), 'tmax'],
    ['tmax a string', withField('tmax', '100'), 'tmax'],
    ['tmax null', withField('tmax', null), 'tmax'],
    ['at 0', withField('at', 0), 'at'],
    ['at 4', withField('at', 4), 'at'],
    ['at 499', withField('at', 499), 'at'],
    ['at not an integer', withField('at', 1.5), 'at'],
    ['at a string', withField('at', '1'), 'at'],
    ['test 2', withField('test', 2), 'test'],
    ['test true', withField('test', true), 'test'],
    ['allimps 2', withField('allimps', 2), 'allimps'],
    ['bcat of numbers', withField('bcat', [1]), 'bcat'],
    ['acat a string', withField('acat', 'IAB1'), 'acat'],
    ['badv a string', withField('badv', 'a.example'), 'badv'],
    ['bapp with a number', withField('bapp', ['com.app', 3]), 'bapp'],
    ['wseat an object', withField('wseat', {}), 'wseat'],
    ['bseat of numbers', withField('bseat', [1]), 'bseat'],
    ['wlang a string', withField('wlang', 'en'), 'wlang'],
    ['wlangb of numbers', withField('wlangb', [1]), 'wlangb'],
    ['cur a string', withField('cur', 'USD'), 'cur'],
    ['cur unknown code', withField('cur', ['USD', 'ABC']), 'cur[1]'],
    ['cur lower case', withField('cur', ['usd']), 'cur[0]'],
    ['cur withdrawn code', withField('cur', ['HRK']), 'cur[0]'],
    ['ext a string', withField('ext', 'x'), 'ext'],
    ['source not an object', withField('source', 'x'), 'source'],
    ['source.ext a string', withField('source.ext', 'x'), 'source.ext'],
  ])

  it('accepts tmax 0 (no limit given), and at 1, 2, 3 and 500+', () => {
    assertOk(validateBidRequest(withField('tmax', 0)))
    for (const at of [1, 2, 3, 500, 501, 9999]) assertOk(validateBidRequest(withField('at', at)))
  })

  it('accepts every ISO-4217 code in cur and bidfloorcur', () => {
    assert.ok(ISO_4217_CODES.size > 170)
    for (const code of ['USD', 'EUR', 'GBP', 'JPY', 'XCG', 'ZWG', 'SLE', 'VED']) {
      assertOk(validateBidRequest(withField('cur', [code])))
      assertOk(validateBidRequest(withField('imp.0.bidfloorcur', code)))
    }
  })
})

describe('validateBidRequest: distribution channel', () => {
  const site = { page: 'https://news.example/a' }
  runCases([
    ['site and app', withField('app', { id: 'app-1' }), 'app'],
    ['site and an empty app', withField('app', {}), 'app'],
    ['site and dooh', withField('dooh', { id: 'screen-1' }), 'dooh'],
    ['app and dooh', { ...withField('site', ABSENT), app: { id: 'a' }, dooh: { id: 'd' } }, 'dooh'],
    ['site a string', withField('site', 'news.example'), 'site'],
    ['app an array', { ...withField('site', ABSENT), app: [] }, 'app'],
    ['dooh null', { ...withField('site', ABSENT), dooh: null }, 'dooh'],
    ['site.ext a string', withField('site.ext', 'x'), 'site.ext'],
    ['app.ext a string', { ...withField('site', ABSENT), app: { ext: 'x' } }, 'app.ext'],
    ['dooh.ext a number', { ...withField('site', ABSENT), dooh: { ext: 1 } }, 'dooh.ext'],
  ])

  it('accepts exactly one of site, app or dooh, or none (OpenRTB recommends, does not require one)', () => {
    assertOk(validateBidRequest({ ...baseRequest(), site }))
    assertOk(validateBidRequest({ ...withField('site', ABSENT), app: { bundle: 'com.example' } }))
    assertOk(validateBidRequest({ ...withField('site', ABSENT), dooh: { id: 'screen-1' } }))
    assertOk(validateBidRequest(withField('site', ABSENT)))
    assertOk(validateBidRequest(withField('site', {})))
  })
})

describe('validateBidRequest: imp', () => {
  const twoImps = (secondId: unknown): Json =>
    withField('imp', [
      { id: 'a', banner: { w: 300, h: 250 } },
      { id: secondId, banner: { w: 300, h: 250 } },
    ])
  const manyImps = Array.from({ length: 50 }, (_, i) => ({
    id: `imp-${i % 40}`,
    video: { mimes: ['video/mp4'] },
  }))
  runCases([
    ['imp entry a number', withField('imp', [42]), 'imp[0]'],
    ['imp entry null', withField('imp', [null]), 'imp[0]'],
    ['imp entry an array', withField('imp', [[]]), 'imp[0]'],
    ['imp without id', withField('imp.0.id', ABSENT), 'imp[0].id'],
    ['imp with a numeric id', withField('imp.0.id', 1), 'imp[0].id'],
    ['imp with an empty id', withField('imp.0.id', ''), 'imp[0].id'],
    ['second imp without id', twoImps(undefined), 'imp[1].id'],
    ['duplicate imp ids', twoImps('a'), 'imp[1].id'],
    ['duplicate imp ids in a long list', withField('imp', manyImps), 'imp[40].id'],
    ['imp without media', withField('imp', [{ id: '1' }]), 'imp[0]'],
    ['banner a string', withField('imp.0.banner', 'x'), 'imp[0].banner'],
    ['banner null', withField('imp.0.banner', null), 'imp[0].banner'],
    ['video an array', withField('imp.0.video', []), 'imp[0].video'],
    ['audio a number', withField('imp.0.audio', 1), 'imp[0].audio'],
    ['native a string', withField('imp.0.native', '{}'), 'imp[0].native'],
    ['instl 2', withField('imp.0.instl', 2), 'imp[0].instl'],
    ['secure true', withField('imp.0.secure', true), 'imp[0].secure'],
    ['bidfloor negative', withField('imp.0.bidfloor', -0.01), 'imp[0].bidfloor'],
    ['bidfloor a string', withField('imp.0.bidfloor', '1.5'), 'imp[0].bidfloor'],
    ['bidfloorcur unknown', withField('imp.0.bidfloorcur', 'XYZ'), 'imp[0].bidfloorcur'],
    ['bidfloorcur lower case', withField('imp.0.bidfloorcur', 'usd'), 'imp[0].bidfloorcur'],
    ['bidfloorcur a number', withField('imp.0.bidfloorcur', 840), 'imp[0].bidfloorcur'],
    ['imp.ext a string', withField('imp.0.ext', 'x'), 'imp[0].ext'],
    ['pmp a string', withField('imp.0.pmp', 'x'), 'imp[0].pmp'],
    ['pmp.private_auction 2', withField('imp.0.pmp.private_auction', 2), 'imp[0].pmp.private_auction'],
    ['pmp.deals an object', withField('imp.0.pmp.deals', {}), 'imp[0].pmp.deals'],
    ['deal a string', withField('imp.0.pmp.deals', ['d']), 'imp[0].pmp.deals[0]'],
    ['deal without id', withField('imp.0.pmp.deals', [{ bidfloor: 1 }]), 'imp[0].pmp.deals[0].id'],
    ['deal with an empty id', withField('imp.0.pmp.deals', [{ id: '' }]), 'imp[0].pmp.deals[0].id'],
    ['deal with a numeric id', withField('imp.0.pmp.deals', [{ id: 7 }]), 'imp[0].pmp.deals[0].id'],
    [
      'deal floor negative',
      withField('imp.0.pmp.deals', [{ id: 'd', bidfloor: -1 }]),
      'imp[0].pmp.deals[0].bidfloor',
    ],
    [
      'deal floor a string',
      withField('imp.0.pmp.deals', [{ id: 'd', bidfloor: '2' }]),
      'imp[0].pmp.deals[0].bidfloor',
    ],
    [
      'deal floor currency unknown',
      withField('imp.0.pmp.deals', [{ id: 'd', bidfloorcur: 'EURO' }]),
      'imp[0].pmp.deals[0].bidfloorcur',
    ],
    [
      'deal wseat a string',
      withField('imp.0.pmp.deals', [{ id: 'd', wseat: 'seat' }]),
      'imp[0].pmp.deals[0].wseat',
    ],
    ['second deal bad', withField('imp.0.pmp.deals', [{ id: 'd' }, { id: '' }]), 'imp[0].pmp.deals[1].id'],
  ])

  it('accepts floors of 0, deals with floors, and several imps', () => {
    assertOk(validateBidRequest(withField('imp.0.bidfloor', 0)))
    const pmp = { private_auction: 1, deals: [{ id: 'd1', bidfloor: 2.5, bidfloorcur: 'EUR', wseat: ['s'] }] }
    assertOk(validateBidRequest(withField('imp.0.pmp', pmp)))
    assertOk(validateBidRequest(twoImps('b')))
    assertOk(validateBidRequest(withField('imp', manyImps.slice(0, 40))))
  })
})

describe('validateBidRequest: banner', () => {
  const banner = (value: Json): Json => withField('imp.0.banner', value)
  const format = (...formats: unknown[]): Json => banner({ format: formats })
  runCases([
    ['no size at all', banner({}), 'imp[0].banner'],
    ['w only', banner({ w: 300 }), 'imp[0].banner'],
    ['h only', banner({ h: 250 }), 'imp[0].banner'],
    ['w of 0', banner({ w: 0, h: 250 }), 'imp[0].banner'],
    ['empty format', banner({ format: [] }), 'imp[0].banner'],
    ['deprecated wmin only', banner({ wmin: 50 }), 'imp[0].banner'],
    ['w negative', banner({ w: -1, h: 250 }), 'imp[0].banner.w'],
    ['h negative', banner({ w: 300, h: -1 }), 'imp[0].banner.h'],
    ['w not an integer', banner({ w: 300.5, h: 250 }), 'imp[0].banner.w'],
    ['w a string', banner({ w: '300', h: 250 }), 'imp[0].banner.w'],
    ['negative w with format', banner({ w: -300, format: [{ w: 300, h: 250 }] }), 'imp[0].banner.w'],
    ['deprecated wmin negative', banner({ w: 300, h: 250, wmin: -1 }), 'imp[0].banner.wmin'],
    ['deprecated hmax negative', banner({ w: 300, h: 250, hmax: -1 }), 'imp[0].banner.hmax'],
    ['format an object', banner({ format: { w: 300, h: 250 } }), 'imp[0].banner.format'],
    ['format entry a number', format(300), 'imp[0].banner.format[0]'],
    ['format entry empty', format({}), 'imp[0].banner.format[0]'],
    ['format h of 0', format({ w: 300, h: 0 }), 'imp[0].banner.format[0].h'],
    ['format w missing', format({ h: 250 }), 'imp[0].banner.format[0].w'],
    ['format size and ratio', format({ w: 300, wratio: 16 }), 'imp[0].banner.format[0]'],
    ['format ratio without wmin', format({ wratio: 16, hratio: 9 }), 'imp[0].banner.format[0].wmin'],
    ['format ratio without wratio', format({ wmin: 300, hratio: 9 }), 'imp[0].banner.format[0].wratio'],
    ['format ratio without hratio', format({ wmin: 300, wratio: 16 }), 'imp[0].banner.format[0].hratio'],
    ['format w negative', format({ w: -1, h: 50 }), 'imp[0].banner.format[0].w'],
    ['format h negative', format({ w: 50, h: -1 }), 'imp[0].banner.format[0].h'],
    ['format wmin negative', format({ w: 50, h: 50, wmin: -1 }), 'imp[0].banner.format[0].wmin'],
    ['format wratio negative', format({ w: 50, h: 50, wratio: -1 }), 'imp[0].banner.format[0].wratio'],
    ['format hratio negative', format({ w: 50, h: 50, hratio: -1 }), 'imp[0].banner.format[0].hratio'],
    ['second format bad', format({ w: 300, h: 250 }, { w: -1, h: 50 }), 'imp[0].banner.format[1].w'],
    ['battr of strings', banner({ w: 300, h: 250, battr: ['13'] }), 'imp[0].banner.battr'],
    ['banner.ext a string', banner({ w: 300, h: 250, ext: 'x' }), 'imp[0].banner.ext'],
  ])

  it('accepts w+h, fixed and flexible formats, and deprecated wmin/wmax/hmin/hmax', () => {
    assertOk(validateBidRequest(banner({ w: 300, h: 250, battr: [13, 14] })))
    assertOk(validateBidRequest(format({ w: 300, h: 250 }, { w: 728, h: 90 })))
    assertOk(validateBidRequest(format({ wmin: 300, wratio: 16, hratio: 9 })))
    assertOk(validateBidRequest(format({ w: 300, h: 250, wmin: 0 })))
    assertOk(validateBidRequest(banner({ w: 300, h: 250, wmin: 200, wmax: 400, hmin: 100, hmax: 300 })))
  })

  it('interstitials need no size (instl = 1), other imps do', () => {
    assertOk(validateBidRequest(withField('imp', [{ id: '1', instl: 1, banner: {} }])))
    assertProblem(validateBidRequest(withField('imp', [{ id: '1', instl: 0, banner: {} }])), 'imp[0].banner')
  })
})

describe('validateBidRequest: video and audio', () => {
  const video = (value: Json): Json => withField('imp.0.video', value, withField('imp.0.banner', ABSENT))
  const audio = (value: Json): Json => withField('imp.0.audio', value, withField('imp.0.banner', ABSENT))
  const mp4 = { mimes: ['video/mp4'] }
  const mp3 = { mimes: ['audio/mpeg'] }
  runCases([
    ['video without mimes', video({}), 'imp[0].video.mimes'],
    ['video mimes empty', video({ mimes: [] }), 'imp[0].video.mimes'],
    ['video mimes a string', video({ mimes: 'video/mp4' }), 'imp[0].video.mimes'],
    ['video mimes of numbers', video({ mimes: [1] }), 'imp[0].video.mimes'],
    ['video w negative', video({ ...mp4, w: -1 }), 'imp[0].video.w'],
    ['video h negative', video({ ...mp4, h: -1 }), 'imp[0].video.h'],
    ['video minbitrate negative', video({ ...mp4, minbitrate: -1 }), 'imp[0].video.minbitrate'],
    ['video maxbitrate negative', video({ ...mp4, maxbitrate: -1 }), 'imp[0].video.maxbitrate'],
    ['video minduration negative', video({ ...mp4, minduration: -1 }), 'imp[0].video.minduration'],
    ['video maxduration negative', video({ ...mp4, maxduration: -1 }), 'imp[0].video.maxduration'],
    ['video battr a number', video({ ...mp4, battr: 13 }), 'imp[0].video.battr'],
    ['audio without mimes', audio({}), 'imp[0].audio.mimes'],
    ['audio mimes empty', audio({ mimes: [] }), 'imp[0].audio.mimes'],
    ['audio sequence negative', audio({ ...mp3, sequence: -1 }), 'imp[0].audio.sequence'],
    ['audio maxseq negative', audio({ ...mp3, maxseq: -1 }), 'imp[0].audio.maxseq'],
    ['audio minbitrate negative', audio({ ...mp3, minbitrate: -1 }), 'imp[0].audio.minbitrate'],
    ['audio maxbitrate negative', audio({ ...mp3, maxbitrate: -1 }), 'imp[0].audio.maxbitrate'],
    ['audio battr of strings', audio({ ...mp3, battr: ['1'] }), 'imp[0].audio.battr'],
  ])

  it('accepts video and audio with mimes and sizes', () => {
    assertOk(
      validateBidRequest(video({ ...mp4, w: 640, h: 480, minduration: 5, maxduration: 30, battr: [13] })),
    )
    assertOk(validateBidRequest(audio({ ...mp3, sequence: 1, maxseq: 3, minbitrate: 64, maxbitrate: 320 })))
  })
})

describe('validateBidRequest: native', () => {
  const native = (value: unknown): Json => withField('imp', [{ id: '1', native: value }])
  const req = 'imp[0].native.request'
  runCases([
    ['native without request', native({}), req],
    ['request a number', native({ request: 5 }), req],
    ['request not JSON', native({ request: '{"assets":' }), req],
    ['request a JSON array', native({ request: '[]' }), req],
    ['request a JSON string', native({ request: '"native"' }), req],
    [
      'native.battr of strings',
      native({ request: JSON.stringify(baseNative()), battr: ['1'] }),
      'imp[0].native.battr',
    ],
    ['native.ext a number', native({ request: JSON.stringify(baseNative()), ext: 1 }), 'imp[0].native.ext'],
    ['no assets', withNative('assets', ABSENT), `${req}.assets`],
    ['empty request object', nativeRequest({}), `${req}.assets`],
    ['assets empty', withNative('assets', []), `${req}.assets`],
    ['asset a number', withNative('assets', [1]), `${req}.assets[0]`],
    ['asset without a kind', withNative('assets', [{ id: 1, required: 1 }]), `${req}.assets[0]`],
    [
      'asset with two kinds',
      withNative('assets', [{ title: { len: 9 }, img: { w: 1 } }]),
      `${req}.assets[0]`,
    ],
    ['asset id negative', withNative('assets', [{ id: -1, title: { len: 9 } }]), `${req}.assets[0].id`],
    ['title without len', withNative('assets', [{ title: {} }]), `${req}.assets[0].title.len`],
    ['title len 0', withNative('assets', [{ title: { len: 0 } }]), `${req}.assets[0].title.len`],
    ['title a string', withNative('assets', [{ title: 'x' }]), `${req}.assets[0].title`],
    ['img w negative', withNative('assets', [{ img: { w: -20, h: 30 } }]), `${req}.assets[0].img.w`],
    ['img h negative', withNative('assets', [{ img: { w: 20, h: -30 } }]), `${req}.assets[0].img.h`],
    ['img wmin negative', withNative('assets', [{ img: { wmin: -1 } }]), `${req}.assets[0].img.wmin`],
    [
      'video asset without mimes',
      withNative('assets', [{ video: { protocols: [3] } }]),
      `${req}.assets[0].video.mimes`,
    ],
    [
      'video asset protocol 97',
      withNative('assets', [{ video: { mimes: ['video/mp4'], protocols: [97] } }]),
      `${req}.assets[0].video.protocols[0]`,
    ],
    [
      'video asset protocol 0',
      withNative('assets', [{ video: { mimes: ['video/mp4'], protocols: [2, 0] } }]),
      `${req}.assets[0].video.protocols[1]`,
    ],
    [
      'video asset maxduration negative',
      withNative('assets', [{ video: { mimes: ['video/mp4'], maxduration: -1 } }]),
      `${req}.assets[0].video.maxduration`,
    ],
    ['data type 364', withNative('assets', [{ data: { type: 364 } }]), `${req}.assets[0].data.type`],
    ['data type 0', withNative('assets', [{ data: { type: 0 } }]), `${req}.assets[0].data.type`],
    ['data without type', withNative('assets', [{ data: { len: 25 } }]), `${req}.assets[0].data.type`],
    [
      'duplicate asset ids',
      withNative('assets', [
        { id: 1, img: { wmin: 30 } },
        { id: 1, title: { len: 20 } },
      ]),
      `${req}.assets[1].id`,
    ],
    [
      'some asset ids missing (missing = 0, twice)',
      withNative('assets', [{ id: 1, img: { wmin: 30 } }, { title: { len: 20 } }, { img: { wmin: 50 } }]),
      `${req}.assets[2].id`,
    ],
    ['context 4', withNative('context', 4), `${req}.context`],
    ['context a string', withNative('context', '1'), `${req}.context`],
    ['contextsubtype negative', withNative('contextsubtype', -1), `${req}.contextsubtype`],
    ['social subtype in content context', withNative('contextsubtype', 21), `${req}.contextsubtype`],
    ['product subtype in content context', withNative('contextsubtype', 30), `${req}.contextsubtype`],
    ['subtype 16 (unassigned)', withNative('contextsubtype', 16), `${req}.contextsubtype`],
    [
      'subtype without context',
      nativeRequest(withField('context', ABSENT, { ...baseNative(), contextsubtype: 10 })),
      `${req}.contextsubtype`,
    ],
    ['plcmttype 5', withNative('plcmttype', 5), `${req}.plcmttype`],
    ['plcmttype 423', withNative('plcmttype', 423), `${req}.plcmttype`],
    ['plcmttype negative', withNative('plcmttype', -1), `${req}.plcmttype`],
    ['eventtrackers an object', withNative('eventtrackers', {}), `${req}.eventtrackers`],
    [
      'eventtracker methods empty',
      withNative('eventtrackers', [{ event: 1, methods: [] }]),
      `${req}.eventtrackers[0].methods`,
    ],
    [
      'eventtracker without methods',
      withNative('eventtrackers', [{ event: 1 }]),
      `${req}.eventtrackers[0].methods`,
    ],
    [
      'eventtracker method 3',
      withNative('eventtrackers', [{ event: 1, methods: [1, 3] }]),
      `${req}.eventtrackers[0].methods[1]`,
    ],
    [
      'eventtracker event 5',
      withNative('eventtrackers', [{ event: 5, methods: [1] }]),
      `${req}.eventtrackers[0].event`,
    ],
    [
      'wrapped (1.0) request with a bad asset',
      nativeRequest({ native: { ...baseNative(), assets: [{ title: { len: 0 } }] } }),
      `${req}.native.assets[0].title.len`,
    ],
  ])

  it('accepts the string form, the object form and the 1.0 wrapped form', () => {
    assertOk(validateBidRequest(nativeRequest(baseNative())))
    assertOk(validateBidRequest(native({ request: baseNative(), ver: '1.2', battr: [1] })))
    assertOk(validateBidRequest(nativeRequest({ native: baseNative() })))
  })

  it('accepts assets without ids, valid placement combinations and 500+ values', () => {
    const assets = [{ title: { len: 90 } }, { img: { wmin: 30, hmin: 20, type: 3 } }, { data: { type: 12 } }]
    assertOk(validateBidRequest(withNative('assets', assets)))
    assertOk(validateBidRequest(withNative('assets', [{ data: { type: 500 } }])))
    for (const [context, contextsubtype] of [
      [1, 10],
      [1, 15],
      [2, 20],
      [2, 22],
      [3, 30],
      [3, 32],
      [500, 500],
      [1, 0],
    ]) {
      assertOk(validateBidRequest(nativeRequest({ ...baseNative(), context, contextsubtype })))
    }
    for (const plcmttype of [1, 4, 500]) assertOk(validateBidRequest(withNative('plcmttype', plcmttype)))
    const video = { mimes: ['video/mp4'], minduration: 5, maxduration: 30, protocols: [1, 10, 13, 16] }
    assertOk(validateBidRequest(withNative('assets', [{ video }])))
    const trackers = [
      { event: 1, methods: [1, 2] },
      { event: 555, methods: [500] },
    ]
    assertOk(validateBidRequest(withNative('eventtrackers', trackers)))
  })
})

describe('validateBidRequest: device, user, regs', () => {
  runCases([
    ['device a string', withField('device', 'x'), 'device'],
    ['device.w negative', withField('device.w', -1), 'device.w'],
    ['device.h negative', withField('device.h', -1), 'device.h'],
    ['device.ppi negative', withField('device.ppi', -1), 'device.ppi'],
    ['device.geo a string', withField('device.geo', 'x'), 'device.geo'],
    ['device.geo.accuracy negative', withField('device.geo.accuracy', -1), 'device.geo.accuracy'],
    ['device.ext an array', withField('device.ext', []), 'device.ext'],
    ['user a number', withField('user', 1), 'user'],
    ['user.geo.accuracy negative', withField('user.geo.accuracy', -1), 'user.geo.accuracy'],
    ['user.ext a string', withField('user.ext', 'x'), 'user.ext'],
    ['user.ext.consent a number', withField('user.ext.consent', 1), 'user.ext.consent'],
    ['user.consent a number', withField('user.consent', 2), 'user.consent'],
    ['regs a string', withField('regs', 'x'), 'regs'],
    ['regs.gdpr 2', withField('regs.gdpr', 2), 'regs.gdpr'],
    ['regs.coppa true', withField('regs.coppa', true), 'regs.coppa'],
    ['regs.ext malformed', withField('regs.ext', 'malformed'), 'regs.ext'],
    ['regs.ext.gdpr 2', withField('regs.ext.gdpr', 2), 'regs.ext.gdpr'],
  ])
})

describe('validateBidRequest: leniency', () => {
  it('accepts unknown fields and any ext contents', () => {
    const request = {
      ...baseRequest(),
      pad: 'x',
      ext: { prebid: { anything: [1, 'a', null] } },
      imp: [
        {
          id: '1',
          banner: { w: 300, h: 250, futurefield: {} },
          ext: { appnexus: { placementId: 1 } },
          rwdd: 1,
        },
      ],
    }
    assertOk(validateBidRequest(request))
  })

  it('accepts OpenRTB 2.5 ext fields and their 2.6 top-level forms', () => {
    const request = {
      ...baseRequest(),
      regs: { gdpr: 1, coppa: 0, us_privacy: '1YNN', ext: { gdpr: 1, us_privacy: '1YNN' } },
      user: { consent: 'CP...', ext: { consent: 'CP...', eids: [] }, eids: [{ source: 's', uids: [] }] },
      source: { tid: 't', schain: { complete: 1, nodes: [], ver: '1.0' }, ext: { schain: { complete: 1 } } },
      device: { w: 0, h: 0, ppi: 0, geo: { accuracy: 0, lat: 1, lon: 2 }, ext: {} },
    }
    assertOk(validateBidRequest(request))
  })

  it('does not mutate (frozen input) and returns the same object', () => {
    const request = deepFreeze({
      ...nativeRequest(baseNative()),
      imp: [
        { id: '1', banner: { format: [{ w: 300, h: 250 }] }, pmp: { deals: [{ id: 'd' }] } },
        { id: '2', native: { request: JSON.stringify(baseNative()) } },
      ],
    })
    const before = JSON.stringify(request)
    const result = validateBidRequest(request)
    assertOk(result)
    if (result.ok) assert.equal(result.request, request)
    assert.equal(JSON.stringify(request), before)
  })
})

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child)
    Object.freeze(value)
  }
  return value
}
