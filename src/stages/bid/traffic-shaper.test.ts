import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { DspConfig } from '../../config/config.js'
import { ExchangeMetrics } from '../../metrics/metrics.js'
import type { BidRequest } from '../../openrtb/types.js'
import { BREAKER_CLOSED, BREAKER_OPEN } from './circuit-breaker.js'
import { metricValue } from './testing/metric-values.js'
import { createTrafficShaper, DEFAULT_SHAPING, type ShapingOptions } from './traffic-shaper.js'

function dspConfig(id: string, extra: Partial<DspConfig> = {}): DspConfig {
  return {
    id,
    endpoint: 'http://127.0.0.1:1/bid',
    timeoutMs: 80,
    maxQps: 0,
    connections: 8,
    seat: id,
    gzipRequest: false,
    maxResponseBytes: 65536,
    ...extra,
  }
}

function setUp(configs: DspConfig[], options: Partial<ShapingOptions> = {}) {
  const metrics = new ExchangeMetrics(
    configs.map((c) => c.id),
    { defaultMetrics: false },
  )
  const dsps = configs.map((config) => ({ config, metrics: metrics.dsps.get(config.id)! }))
  const shaper = createTrafficShaper(dsps, { minDspBudgetMs: 5 }, { ...DEFAULT_SHAPING, ...options })
  return { metrics, shaper }
}

const REQUEST = {
  id: 'r',
  imp: [{ id: '1', banner: { w: 300, h: 250 } }],
  device: { geo: { country: 'USA' } },
} as BidRequest

describe('traffic shaper', () => {
  it('checks the cheapest first: a statically ineligible DSP costs no token and no breaker probe', async () => {
    const { metrics, shaper } = setUp([dspConfig('a', { maxQps: 1, countries: ['DEU'] })])
    for (let i = 0; i < 5; i++) {
      shaper.beginAuction(REQUEST, i)
      assert.equal(shaper.admit(0, 80, 75, i), 'country')
    }
    assert.equal(await metricValue(metrics, 'rtb_dsp_skipped_total', { dsp: 'a', reason: 'country' }), 5)
    assert.equal(await metricValue(metrics, 'rtb_dsp_sent_total', { dsp: 'a' }), 0)
  })

  it('deadline feasibility: a DSP is called only when the time left covers its p90', () => {
    // random() never under the probe rate: no probe calls in this test (see the next one).
    const { shaper } = setUp([dspConfig('a')], { random: () => 0.99 })
    shaper.beginAuction(REQUEST, 0)
    assert.equal(shaper.admit(0, 4, 0, 0), 'deadline', 'under minDspBudgetMs')
    for (let i = 0; i < 50; i++) {
      assert.equal(shaper.admit(0, 80, 75, i), null)
      shaper.onResult(0, 0, null, 30 + (i % 10), 0, i)
    }
    const p90 = shaper.state(0).latencyEstimateMs
    assert.ok(p90 >= 38 && p90 < 46, `p90 ${p90}`)
    assert.equal(shaper.admit(0, 30, 25, 100), 'deadline')
    assert.equal(shaper.admit(0, 60, 55, 100), null)
  })

  it('a small share of deadline skips goes out as probes, so a stale estimate can recover', () => {
    let draw = 0.99
    const { shaper } = setUp([dspConfig('a')], { random: () => draw })
    shaper.beginAuction(REQUEST, 0)
    for (let i = 0; i < 50; i++) {
      assert.equal(shaper.admit(0, 80, 75, i), null)
      shaper.onResult(0, 0, null, 60, 0, i) // a slow spell: p90 ≈ 60 ms
    }
    assert.equal(shaper.admit(0, 30, 25, 100), 'deadline')
    draw = 0.001 // under explorationRate (0.02): this one is a probe
    assert.equal(shaper.admit(0, 30, 25, 101), null)
    // The DSP is fast again: probe answers bring the estimate down and calls resume.
    for (let i = 0; i < 600; i++) shaper.onResult(0, 0, null, 8, 0, 200 + i * 20)
    draw = 0.99
    assert.equal(shaper.admit(0, 30, 25, 12_300), null, `estimate ${shaper.state(0).latencyEstimateMs}`)
  })

  it('a failure burst opens the breaker; it half-opens and closes on good probes', () => {
    const { shaper } = setUp([dspConfig('a')])
    let now = 0
    shaper.beginAuction(REQUEST, now)
    for (let i = 0; i < 10; i++) {
      assert.equal(shaper.admit(0, 80, 75, now), null)
      shaper.onResult(0, 0, 'network', 1, 0, now)
    }
    assert.equal(shaper.state(0).breaker, BREAKER_OPEN)
    assert.equal(shaper.admit(0, 80, 75, now + 500), 'breaker')
    now += 1000
    for (let i = 0; i < 3; i++) assert.equal(shaper.admit(0, 80, 75, now), null)
    assert.equal(shaper.admit(0, 80, 75, now), 'breaker', 'three probes at most')
    for (let i = 0; i < 3; i++) shaper.onResult(0, 0, null, 1, 0, now + 5)
    assert.equal(shaper.state(0).breaker, BREAKER_CLOSED)
    assert.equal(shaper.admit(0, 80, 75, now + 6), null)
  })

  it('error throttling lowers the share of a DSP with many timeouts, then restores it', () => {
    const breakerOff = { ...DEFAULT_SHAPING.breaker, minFailures: 1e9 }
    const { shaper } = setUp([dspConfig('a', { connections: 1000 })], { breaker: breakerOff })
    let now = 0
    const second = (failEvery: number): number => {
      let sent = 0
      shaper.beginAuction(REQUEST, now)
      for (let i = 0; i < 100; i++) {
        if (shaper.admit(0, 80, 75, now) !== null) continue
        sent++
        shaper.onResult(0, 0, i % failEvery === 0 ? 'timeout' : null, 10, 0, now)
      }
      now += 1000
      return sent
    }
    second(2) // 50% timeouts
    for (let i = 0; i < 5; i++) second(2)
    const throttled = shaper.state(0).throttleShare
    assert.ok(throttled < 0.5, `share ${throttled}`)
    assert.ok(second(2) < 60)
    for (let i = 0; i < 30; i++) second(1_000_000)
    assert.equal(shaper.state(0).throttleShare, 1)
    assert.equal(second(1_000_000), 100)
  })

  it('a DSP with all its connections busy is skipped (in_flight) before it takes a token', async () => {
    const { metrics, shaper } = setUp([dspConfig('a', { connections: 2 })])
    shaper.beginAuction(REQUEST, 0)
    assert.equal(shaper.admit(0, 80, 75, 0), null)
    assert.equal(shaper.admit(0, 80, 75, 0), null)
    assert.equal(shaper.admit(0, 80, 75, 0), 'in_flight')
    shaper.onResult(0, 0, null, 1, 0, 1)
    assert.equal(shaper.admit(0, 80, 75, 1), null)
    assert.equal(await metricValue(metrics, 'rtb_dsp_skipped_total', { dsp: 'a', reason: 'in_flight' }), 1)
  })

  it('with worker threads, each worker takes its share of the instance share', () => {
    const metrics = new ExchangeMetrics(['a'], { defaultMetrics: false })
    const config = dspConfig('a', { maxQps: 1000 })
    const shaper = createTrafficShaper([{ config, metrics: metrics.dsps.get('a')! }], {
      minDspBudgetMs: 5,
      workersPerInstance: 2,
    })
    assert.equal(shaper.state(0).qpsLimit, 500)
    shaper.setInstanceCount(4)
    assert.equal(shaper.state(0).qpsLimit, 125)
  })

  it('the QPS cap is split across live instances (setInstanceCount)', async () => {
    const { metrics, shaper } = setUp([dspConfig('a', { maxQps: 1000, connections: 100_000 })])
    assert.equal(shaper.state(0).qpsLimit, 1000)
    shaper.setInstanceCount(4)
    assert.equal(shaper.instanceCount, 4)
    assert.equal(shaper.state(0).qpsLimit, 250)
    assert.equal(await metricValue(metrics, 'rtb_dsp_qps_limit', { dsp: 'a' }), 250)
    let sent = 0
    for (let t = 0; t < 4000; t += 1) {
      shaper.beginAuction(REQUEST, t)
      if (shaper.admit(0, 80, 75, t) === null) {
        sent++
        shaper.onResult(0, 0, null, 1, 0, t)
      }
    }
    assert.ok(sent >= 1000 && sent <= 1000 * 1.05, `sent ${sent} in 4 s at 250 qps`)
  })
})
