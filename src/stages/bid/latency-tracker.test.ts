import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { LatencyTracker } from './latency-tracker.js'

const OPTIONS = { quantile: 0.9, minWeight: 20, halfLifeMs: 2_000 }

describe('LatencyTracker', () => {
  it('is unknown (0) until it has enough observations', () => {
    const t = new LatencyTracker(OPTIONS)
    for (let i = 0; i < 19; i++) t.observe(10)
    assert.equal(t.estimateMs, 0)
    t.observe(10)
    assert.ok(t.estimateMs >= 10 && t.estimateMs < 12, `p90 ${t.estimateMs}`)
  })

  it('estimates p90 of a spread of latencies within one bucket (~19%), erring high', () => {
    const t = new LatencyTracker(OPTIONS)
    const samples: number[] = []
    for (let i = 0; i < 800; i++) {
      const ms = 2 + ((i * 7919) % 100) // 2..101 ms, evenly spread
      samples.push(ms)
      t.observe(ms)
    }
    t.refresh()
    samples.sort((a, b) => a - b)
    const truth = samples[Math.ceil(0.9 * samples.length) - 1]!
    assert.ok(
      t.estimateMs >= truth && t.estimateMs <= truth * 1.19 + 0.01,
      `estimate ${t.estimateMs} truth ${truth}`,
    )
  })

  it('follows a DSP that slows down: old observations decay with time', () => {
    const t = new LatencyTracker(OPTIONS)
    for (let s = 0; s < 5; s++) {
      for (let i = 0; i < 200; i++) t.observe(5)
      t.decay(1_000)
    }
    assert.ok(t.estimateMs < 6)
    for (let s = 0; s < 3; s++) {
      for (let i = 0; i < 200; i++) t.observe(50)
      t.decay(1_000)
    }
    assert.ok(t.estimateMs >= 50, `estimate ${t.estimateMs}`)
  })

  it('a DSP no longer called falls back to unknown instead of keeping a stale estimate', () => {
    const t = new LatencyTracker(OPTIONS)
    for (let i = 0; i < 100; i++) t.observe(300)
    assert.ok(t.estimateMs >= 300)
    for (let s = 0; s < 5; s++) t.decay(1_000)
    assert.equal(t.estimateMs, 0)
  })
})
