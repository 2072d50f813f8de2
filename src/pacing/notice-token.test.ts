import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createNoticeSigner, type NoticeClaims, peekClaims, splitReservationKey } from './notice-token.js'

const NOW = 1_800_000_000_000
const CLAIMS: NoticeClaims = {
  type: 'billing',
  auctionId: 'auc-1',
  impId: '1',
  source: 'ad-7',
  isHouse: true,
  priceCpmMicros: 2_500_000,
  expiresAtMs: NOW + 60_000,
  key: 'host-1-abc.42',
  campaignId: 'c1',
  isLeased: true,
  userId: 'u1',
  forwardUrl: 'https://dsp.example/bill?p=2.5&a=b',
}

describe('notice tokens', () => {
  const signer = createNoticeSigner('0123456789abcdef-secret')

  it('round-trips the claims and is safe in a query string', () => {
    const token = signer.sign(CLAIMS)
    assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/)
    assert.deepEqual(signer.verify(token, 'billing', NOW), { ok: true, claims: CLAIMS })
    assert.deepEqual(peekClaims(`https://x.example/notify/billing?t=${token}`), CLAIMS)
  })

  it('refuses a token signed with another secret, a tampered payload or signature, and junk', () => {
    const token = signer.sign(CLAIMS)
    const other = createNoticeSigner('another-secret-of-16+').sign(CLAIMS)
    assert.deepEqual(signer.verify(other, 'billing', NOW), { ok: false, reason: 'forged' })
    const [payload, sig] = token.split('.') as [string, string]
    const richer = Buffer.from(
      Buffer.from(payload, 'base64url').toString().replace('2500000', '9500000'),
    ).toString('base64url')
    assert.equal(signer.verify(`${richer}.${sig}`, 'billing', NOW).ok, false)
    const flipped = `${payload}.${sig.slice(0, -2)}${sig.endsWith('AA') ? 'AB' : 'AA'}`
    assert.equal(signer.verify(flipped, 'billing', NOW).ok, false)
    // Another spelling of the same bytes (the last character's two spare bits) is refused too.
    const last = sig.at(-1)!
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const sibling = alphabet[alphabet.indexOf(last) ^ 1]!
    assert.deepEqual(Buffer.from(sig.slice(0, -1) + sibling, 'base64url'), Buffer.from(sig, 'base64url'))
    assert.equal(signer.verify(`${payload}.${sig.slice(0, -1)}${sibling}`, 'billing', NOW).ok, false)
    for (const junk of ['', '.', 'abc', `${payload}.`, `.${sig}`, `${payload}.${sig}x`]) {
      assert.deepEqual(signer.verify(junk, 'billing', NOW), { ok: false, reason: 'forged' }, junk)
    }
  })

  it('refuses an expired token and a token of another notice type', () => {
    const token = signer.sign(CLAIMS)
    assert.deepEqual(signer.verify(token, 'billing', NOW + 60_001), { ok: false, reason: 'expired' })
    assert.equal(signer.verify(token, 'billing', NOW + 60_000).ok, true)
    assert.deepEqual(signer.verify(token, 'win', NOW), { ok: false, reason: 'wrong_type' })
  })

  it('needs a secret of at least 16 bytes', () => {
    assert.throws(() => createNoticeSigner('short'), RangeError)
  })

  it('splits reservation keys at the last dot (instance ids may hold dots)', () => {
    assert.deepEqual(splitReservationKey('pod.ns.svc-1~2.17'), { instance: 'pod.ns.svc-1~2', seq: 17 })
    assert.equal(splitReservationKey('inst.n4'), null)
    assert.equal(splitReservationKey('nodot'), null)
  })
})
