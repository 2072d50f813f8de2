import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { BidRequest } from '../../../openrtb/types.js'
import { ADAPTERS } from './adapter-registry.js'
import { bodyWithTmax, type DspAdapter, readAnswer, requestHeaders, serialiseOpen } from './dsp-adapter.js'
import { buildOutboundRequest } from './outbound-request.js'

/**
 * The one runner for every adapter's fixtures, prebid-server style:
 * `adapters/<adapter>/fixtures/*.json`, each holding
 * - `incoming`: the BidRequest as the bid stage gets it;
 * - `auction`: what earlier stages added and the per-auction values (`floors`, `bcat`, `badv`,
 *   `currency`, `asi`, a fixed `tid`, the DSP's `tmaxMs`);
 * - `dsp` (optional): `seat` (default "dsp-seat"), `gzipRequest`;
 * - `expectedRequest`: the `headers` and the JSON `body` the DSP must receive;
 * - `response`: the DSP's `status` and `body` (an object is sent as JSON, a string as is);
 * - `expectedBids` (impIndex, price — null for a missing one —, seat, bidId, responseBidId)
 *   or `expectedError` (the DspFailureKind).
 * The request goes through the same functions the fan-out uses, and the incoming request must
 * come out unchanged (adapters never mutate their input).
 */
interface Fixture {
  readonly description: string
  readonly incoming: BidRequest
  readonly auction: {
    readonly floors?: number[]
    readonly bcat?: string[]
    readonly badv?: string[]
    readonly currency?: string
    readonly asi: string
    readonly tid: string
    readonly tmaxMs: number
  }
  readonly dsp?: { readonly seat?: string; readonly gzipRequest?: boolean }
  readonly expectedRequest: { readonly headers: Record<string, string>; readonly body: unknown }
  readonly response: { readonly status: number; readonly body?: unknown }
  readonly expectedBids?: unknown[]
  readonly expectedError?: string
}

const DSP_INDEX = 3

for (const adapter of ADAPTERS) {
  describe(`adapter ${adapter.name}: fixtures`, () => {
    const files = fixtureFiles(adapter.name)
    it('has fixtures', () => assert.ok(files.length > 0, `no fixtures for ${adapter.name}`))
    for (const file of files) {
      const fixture = JSON.parse(readFileSync(file, 'utf8')) as Fixture
      it(`${file.slice(file.lastIndexOf('/') + 1)}: ${fixture.description}`, () =>
        runFixture(adapter, fixture))
    }
  })
}

function runFixture(adapter: DspAdapter, f: Fixture): void {
  const before = structuredClone(f.incoming)
  const currency = f.auction.currency ?? 'USD'
  const outbound = buildOutboundRequest({
    request: f.incoming,
    floors: f.auction.floors ?? [],
    bcat: f.auction.bcat ?? [],
    badv: f.auction.badv ?? [],
    currency,
    asi: f.auction.asi,
    tid: f.auction.tid,
  })
  const body = bodyWithTmax(serialiseOpen(adapter.buildRequest(outbound)), f.auction.tmaxMs)
  assert.deepEqual(JSON.parse(body), f.expectedRequest.body)
  assert.deepEqual(f.incoming, before, 'the incoming request must not be mutated')
  assert.deepEqual(
    headerObject(requestHeaders(adapter, f.dsp?.gzipRequest ?? false)),
    f.expectedRequest.headers,
  )

  const text = responseText(f.response.body)
  const seat = f.dsp?.seat ?? 'dsp-seat'
  const outcome = readAnswer(adapter, f.response.status, text, f.incoming, DSP_INDEX, seat, currency)
  if (f.expectedError !== undefined) {
    assert.equal(outcome, f.expectedError)
    return
  }
  assert.ok(typeof outcome !== 'string', `expected bids, got the failure ${String(outcome)}`)
  const bids = outcome.map((c) => ({
    impIndex: c.impIndex,
    price: Number.isNaN(c.price) ? null : c.price,
    seat: c.seat,
    bidId: c.bid.id,
    responseBidId: c.responseBidId,
  }))
  assert.deepEqual(bids, f.expectedBids ?? [])
  for (const c of outcome) assert.equal(c.dspIndex, DSP_INDEX)
}

function responseText(body: unknown): string | null {
  if (body === undefined) return null
  return typeof body === 'string' ? body : JSON.stringify(body)
}

function headerObject(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (let i = 0; i < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!
  return out
}

/** Fixtures are read from the source tree (tsc does not copy JSON into dist/). */
function fixtureFiles(adapterName: string): string[] {
  const dir = join(projectRoot(), 'src', 'stages', 'bid', 'adapters', adapterName, 'fixtures')
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => join(dir, name))
}

function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir)
    if (parent === dir) return process.cwd()
    dir = parent
  }
  return dir
}
