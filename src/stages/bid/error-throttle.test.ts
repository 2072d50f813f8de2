import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ErrorThrottle } from './error-throttle.js'

const OPTIONS = { maxErrorRate: 0.2, smoothing: 0.5, decrease: 0.25, recover: 0.05, minShare: 0.05 }

function passed(t: ErrorThrottle, calls: number): number {
  let n = 0
  for (let i = 0; i < calls; i++) if (t.allows()) n++
  return n
}

describe('ErrorThrottle', () => {
  it('lets everything through while healthy', () => {
    const t = new ErrorThrottle(OPTIONS)
    for (let i = 0; i < 100; i++) t.onResult(i % 10 === 0)
    t.tick()
    assert.equal(t.share, 1)
    assert.equal(passed(t, 1000), 1000)
  })

  it('cuts multiplicatively while errors are high, never under minShare, and spreads the share evenly', () => {
    const t = new ErrorThrottle(OPTIONS)
    for (let tick = 0; tick < 20; tick++) {
      for (let i = 0; i < 100; i++) t.onResult(i % 2 === 0)
      t.tick()
    }
    assert.equal(t.share, 0.05)
    assert.equal(passed(t, 1000), 50)
  })

  it('restores additively once errors are back under the limit', () => {
    const t = new ErrorThrottle(OPTIONS)
    for (let i = 0; i < 100; i++) t.onResult(true)
    t.tick()
    const cut = t.share
    assert.ok(cut < 1)
    const shares: number[] = []
    for (let tick = 0; tick < 30; tick++) {
      for (let i = 0; i < 100; i++) t.onResult(false)
      t.tick()
      shares.push(t.share)
    }
    assert.ok(
      shares.every((s, i) => i === 0 || s >= shares[i - 1]!),
      'monotone recovery',
    )
    assert.equal(shares.at(-1), 1)
  })
})
