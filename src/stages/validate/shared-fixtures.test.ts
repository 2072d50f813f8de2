import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import {
  DIFFERENCES_FROM_PBS as DIFFERENCES,
  type IndexRow,
  listJson,
  readIndex,
  skipUnlessShared,
} from '../../testing/shared-fixtures.js'
import { type ParseResult, parseBidRequest } from './validate-request.js'

/*
 * The validator against the public fixtures in ../shared/fixtures, read in place. Prebid Server's
 * samples give the expected HTTP status (400 -> ok:false, 200 -> ok:true); the IAB examples must
 * all pass. Where we decide differently, the row is listed below with the reason.
 */

/**
 * The field named for each fixture that is rejected: proof that it is rejected for the reason it
 * was written for, not for some earlier accident.
 */
const REJECTED_AT: Readonly<Record<string, string>> = {
  'invalid-native/asset-data-invalid-type.json': 'imp[0].native.request.assets[0].data.type',
  'invalid-native/asset-empty.json': 'imp[0].native.request.assets',
  'invalid-native/asset-img-h-negative.json': 'imp[0].native.request.assets[0].img.h',
  'invalid-native/asset-img-w-negative.json': 'imp[0].native.request.assets[0].img.w',
  'invalid-native/asset-title-empty.json': 'imp[0].native.request.assets[0].title.len',
  'invalid-native/asset-video-no-mimes.json': 'imp[0].native.request.assets[0].video.mimes',
  'invalid-native/asset-video-protocols-invalid.json': 'imp[0].native.request.assets[0].video.protocols[0]',
  'invalid-native/assets-with-dup-ids.json': 'imp[0].native.request.assets[1].id',
  'invalid-native/assets-with-partial-ids.json': 'imp[0].native.request.assets[2].id',
  'invalid-native/context-type-content-incompatible-subtype.json': 'imp[0].native.request.contextsubtype',
  'invalid-native/contextsubtype-negative.json': 'imp[0].native.request.contextsubtype',
  'invalid-native/empty-object.json': 'imp[0].native.request.assets',
  'invalid-native/eventtracker-methods-empty.json': 'imp[0].native.request.eventtrackers[0].methods',
  'invalid-native/request-plcmttype-invalid.json': 'imp[0].native.request.plcmttype',
  'invalid-whole/audio-maxbitrate-negative.json': 'imp[0].audio.maxbitrate',
  'invalid-whole/audio-maxseq-negative.json': 'imp[0].audio.maxseq',
  'invalid-whole/audio-mimes-empty.json': 'imp[0].audio.mimes',
  'invalid-whole/audio-minbitrate-negative.json': 'imp[0].audio.minbitrate',
  'invalid-whole/audio-sequence-negative.json': 'imp[0].audio.sequence',
  'invalid-whole/banner-h-negative.json': 'imp[0].banner.h',
  'invalid-whole/banner-h-only.json': 'imp[0].banner',
  // POLICY rows: PBS rejects the deprecated wmin/wmax/hmin/hmax themselves; we accept them, and these
  // banners are still rejected because they have no size at all (no w+h, no format).
  'invalid-whole/banner-hmax.json': 'imp[0].banner',
  'invalid-whole/banner-hmin.json': 'imp[0].banner',
  'invalid-whole/banner-wmax.json': 'imp[0].banner',
  'invalid-whole/banner-wmin.json': 'imp[0].banner',
  'invalid-whole/banner-no-size.json': 'imp[0].banner',
  'invalid-whole/banner-w-negative.json': 'imp[0].banner.w',
  'invalid-whole/banner-w-only.json': 'imp[0].banner',
  'invalid-whole/deal-no-id.json': 'imp[0].pmp.deals[0].id',
  'invalid-whole/device-geo-accuracy-negative.json': 'device.geo.accuracy',
  'invalid-whole/device-h-negative.json': 'device.h',
  'invalid-whole/device-ppi-negative.json': 'device.ppi',
  'invalid-whole/device-w-negative.json': 'device.w',
  'invalid-whole/empty-object.json': 'id',
  'invalid-whole/format-empty-array.json': 'imp[0].banner',
  'invalid-whole/format-empty-object.json': 'imp[0].banner.format[0]',
  'invalid-whole/format-h-negative.json': 'imp[0].banner.format[0].h',
  'invalid-whole/format-hratio-negative.json': 'imp[0].banner.format[0].hratio',
  'invalid-whole/format-no-height.json': 'imp[0].banner.format[0].h',
  'invalid-whole/format-no-hratio.json': 'imp[0].banner.format[0].wmin',
  'invalid-whole/format-two-widths.json': 'imp[0].banner.format[0]',
  'invalid-whole/format-w-negative.json': 'imp[0].banner.format[0].w',
  'invalid-whole/format-wmin-negative.json': 'imp[0].banner.format[0].wmin',
  'invalid-whole/format-wratio-negative.json': 'imp[0].banner.format[0].wratio',
  'invalid-whole/imp-empty-array.json': 'imp',
  'invalid-whole/imp-empty-object.json': 'imp[0].id',
  'invalid-whole/imp-id-duplicates.json': 'imp[1].id',
  'invalid-whole/imp-no-type.json': 'imp[0]',
  'invalid-whole/malformed-bid-request.json': 'body',
  'invalid-whole/native-empty.json': 'imp[0].native.request',
  'invalid-whole/null.json': 'body',
  'invalid-whole/only-request-id.json': 'imp',
  'invalid-whole/regs-ext-malformed.json': 'regs.ext',
  'invalid-whole/regs-gdpr-invalid.json': 'regs.gdpr',
  'invalid-whole/site-app-both.json': 'app',
  'invalid-whole/site-dooh-both.json': 'dooh',
  // The fixture has no imp, so the first problem is imp; the tmax rule has its own unit tests.
  'invalid-whole/tmax-negative.json': 'imp',
  'invalid-whole/user-ext-consent-int.json': 'user.ext.consent',
  'invalid-whole/user-gdpr-consent-invalid.json': 'user.ext.consent',
  'invalid-whole/user-geo-accuracy-negative.json': 'user.geo.accuracy',
  'invalid-whole/video-empty.json': 'imp[0].video.mimes',
  'invalid-whole/video-h-negative.json': 'imp[0].video.h',
  'invalid-whole/video-maxbitrate-negative.json': 'imp[0].video.maxbitrate',
  'invalid-whole/video-mimes-empty.json': 'imp[0].video.mimes',
  'invalid-whole/video-minbitrate-negative.json': 'imp[0].video.minbitrate',
  'invalid-whole/video-w-negative.json': 'imp[0].video.w',
}

/**
 * The IAB Native 1.2 examples (§6) use `plcmttype: 11`, a value the same spec's placement type list
 * (§7.3: 1-4, 500+) does not define; Prebid Server rejects it too. We keep the rule and check
 * that this is the only thing wrong with them.
 */
const NATIVE_EXAMPLE_PLACEMENT = 11

describe('shared fixtures: Prebid Server auction samples', () => {
  it('every plain OpenRTB / Native 1.2 fixture gets the expected outcome', async (t) => {
    const shared = skipUnlessShared(t)
    if (shared === null) return
    const dir = join(shared, 'prebid-server')
    const rows = readIndex(join(dir, 'INDEX.md'))
    assert.deepEqual(
      rows.map((r) => r.path).sort(),
      listJson(dir, dir).sort(),
      'INDEX.md lists every fixture file',
    )
    for (const row of rows) {
      // Every row is plain OpenRTB ("ORTB…", "Native 1.2") or a POLICY row kept with our own expectation.
      assert.match(row.tag, /^(ORTB|Native 1\.2|POLICY)/, `${row.path}: unexpected tag ${row.tag}`)
      await t.test(row.path, (st) => checkPrebidFixture(st, dir, row))
    }
    assert.equal(rows.length, 81)
  })
})

describe('shared fixtures: IAB OpenRTB 2.6 examples', () => {
  it('every request example and DOOH request is valid', async (t) => {
    const shared = skipUnlessShared(t)
    if (shared === null) return
    const dir = join(shared, 'openrtb', 'v2.6')
    const files = [
      ...listJson(join(dir, 'requests'), dir),
      ...listJson(join(dir, 'dooh'), dir).filter((f) => f.includes('request')),
    ]
    assert.equal(files.length, 7)
    for (const file of files) {
      await t.test(file, () => assertOk(parseBidRequest(readFileSync(join(dir, file), 'utf8'))))
    }
  })

  it('every Native 1.2 request example is valid inside imp[0].native.request, but for its plcmttype', async (t) => {
    const shared = skipUnlessShared(t)
    if (shared === null) return
    const dir = join(shared, 'openrtb', 'native-1.2')
    const files = listJson(dir, dir).filter((f) => f.includes('request'))
    assert.equal(files.length, 2)
    for (const file of files) await t.test(file, (st) => checkNativeExample(st, join(dir, file)))
  })
})

async function checkNativeExample(t: TestContext, path: string): Promise<void> {
  const native = JSON.parse(readFileSync(path, 'utf8')) as { native: Record<string, unknown> }
  assert.equal(native.native['plcmttype'], NATIVE_EXAMPLE_PLACEMENT)
  await t.test('as published: rejected for plcmttype only', () => {
    assertRejectedAt(parseBidRequest(wrapNative(native)), 'imp[0].native.request.native.plcmttype')
  })
  await t.test('with a defined plcmttype (1, in feed): valid', () => {
    assertOk(parseBidRequest(wrapNative({ native: { ...native.native, plcmttype: 1 } })))
  })
}

/** A minimal valid bid request carrying `native` as the JSON string in imp[0].native.request. */
function wrapNative(native: unknown): string {
  const imp = { id: '1', native: { request: JSON.stringify(native), ver: '1.2' } }
  return JSON.stringify({ id: 'native-example', imp: [imp], site: { page: 'https://news.example/' } })
}

function checkPrebidFixture(t: TestContext, dir: string, row: IndexRow): void {
  const fixture = JSON.parse(readFileSync(join(dir, row.path), 'utf8')) as {
    mockBidRequest: unknown
    expectedReturnCode: number
  }
  assert.equal(fixture.expectedReturnCode, row.http, 'INDEX.md and the fixture agree on the status')
  // A string mockBidRequest is the raw body itself (malformed input), not a JSON string literal.
  const body =
    typeof fixture.mockBidRequest === 'string'
      ? fixture.mockBidRequest
      : JSON.stringify(fixture.mockBidRequest)
  const result = parseBidRequest(body)
  const difference = DIFFERENCES[row.path]
  if (difference !== undefined)
    t.diagnostic(`deliberate difference from PBS (${row.http}): ${difference.reason}`)
  if (difference?.ok ?? row.http === 200) assertOk(result)
  else assertRejectedAt(result, REJECTED_AT[row.path])
}

function assertRejectedAt(result: ParseResult, field: string | undefined): void {
  assert.equal(result.ok, false, 'should be rejected')
  if (!result.ok) assert.equal(result.problem.field, field)
}

function assertOk(result: ParseResult): void {
  assert.equal(result.ok, true, result.ok ? '' : `${result.problem.field}: ${result.problem.message}`)
}
