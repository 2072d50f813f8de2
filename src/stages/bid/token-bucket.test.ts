import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TokenBucket } from './token-bucket.js'

function takenOver(bucket: TokenBucket, fromMs: number, toMs: number, everyMs: number): number {
  let n = 0
  for (let t = fromMs; t < toMs; t += everyMs) if (bucket.tryTake(t)) n++
  return n
}

describe('TokenBucket', () => {
  it('holds its rate under twice the demand, plus at most its burst', () => {
    const bucket = new TokenBucket(200, 100)
    const taken = takenOver(bucket, 0, 10_000, 2.5) // 400 attempts per second
    assert.ok(taken >= 2000 && taken <= 2000 + 20, `taken ${taken}`)
  })

  it('an idle spell refills only up to the burst', () => {
    const bucket = new TokenBucket(100, 100)
    assert.equal(takenOver(bucket, 0, 1, 0.01), 10)
    assert.equal(takenOver(bucket, 60_000, 60_001, 0.01), 10)
  })

  it('setRate splits the cap (e.g. across instances) and trims the tokens held', () => {
    const bucket = new TokenBucket(1000, 100)
    bucket.setRate(250)
    assert.equal(bucket.qps, 250)
    const taken = takenOver(bucket, 0, 4000, 0.5)
    assert.ok(taken >= 1000 && taken <= 1000 + 25, `taken ${taken}`)
  })
})
