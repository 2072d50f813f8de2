import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DEFAULT_SHAPING } from './traffic-shaper.js'
import { ValueModel } from './value-model.js'

/** A tiny deterministic PRNG so the runs are repeatable. */
function lcg(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

describe('ValueModel', () => {
  it('does not filter an uncapped DSP', () => {
    const m = new ValueModel(DEFAULT_SHAPING.value, 0.02)
    const random = lcg(1)
    for (let i = 0; i < 1000; i++) assert.equal(m.decide(i % 32, random), 'pass')
    m.tick(1, 0)
    assert.equal(m.threshold, 0)
  })

  it('values a segment by bid rate times price, relative to the average call', () => {
    const m = new ValueModel(DEFAULT_SHAPING.value, 0.02)
    for (let i = 0; i < 1000; i++) {
      m.onSent(0)
      m.onSent(1)
      m.onResult(0, i % 2 === 0 ? 2 : 0) // 50% bids at 2 CPM
      m.onResult(1, i % 10 === 0 ? 1 : 0) // 10% bids at 1 CPM
    }
    m.tick(1, 0)
    // Relative to the call-weighted average (0.55): 1 / 0.55 and 0.1 / 0.55.
    assert.ok(Math.abs(m.values[0]! - 1.82) < 0.03, `v0 ${m.values[0]}`)
    assert.ok(Math.abs(m.values[1]! - 0.18) < 0.03, `v1 ${m.values[1]}`)
  })

  it('under a QPS cap, thins the low-value segment first and passes about the target', () => {
    const m = new ValueModel(DEFAULT_SHAPING.value, 0.02)
    const random = lcg(7)
    for (let i = 0; i < 2000; i++) {
      m.onSent(0)
      m.onSent(1)
      m.onResult(0, i % 2 === 0 ? 2 : 0)
      m.onResult(1, i % 10 === 0 ? 1 : 0)
    }
    const allowedQps = 100
    let high = 0
    let low = 0
    let explored = 0
    for (let second = 0; second < 30; second++) {
      high = 0
      low = 0
      explored = 0
      for (let i = 0; i < 200; i++) {
        const segment = i % 2 // 200 per second offered, half in each segment
        const verdict = m.decide(segment, random)
        if (verdict === 'pass') segment === 0 ? high++ : low++
        else if (verdict === 'explore') explored++
      }
      m.tick(1, allowedQps)
    }
    assert.equal(high, 100, 'every high-value call passes')
    assert.ok(high + low >= 100 && high + low <= 140, `passes ${high + low} (target 120)`)
    assert.ok(explored > 0 && explored < 10, `explored ${explored}`)
  })
})
