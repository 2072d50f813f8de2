import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AggregatorRegistry, Registry } from 'prom-client'
import { FastCounter } from './fast-counter.js'

describe('FastCounter', () => {
  it('exposes every series from the start, with its increments, in Prometheus text', async () => {
    const registry = new Registry()
    const c = new FastCounter('rtb_test_total', 'A test counter.', ['outcome'], registry)
    const bid = c.labels('bid')
    c.labels('no_bid')
    bid.inc()
    bid.inc(2)
    assert.equal(c.labels('bid'), bid, 'the same label values give the same series')
    const text = await registry.metrics()
    assert.match(text, /# TYPE rtb_test_total counter/)
    assert.match(text, /rtb_test_total\{outcome="bid"\} 3\n/)
    assert.match(text, /rtb_test_total\{outcome="no_bid"\} 0\n/)
  })

  it('sums over worker threads like a prom-client counter', async () => {
    const parts = await Promise.all(
      [1, 4].map(async (n) => {
        const registry = new Registry()
        new FastCounter('rtb_test_total', 'A test counter.', [], registry).labels().inc(n)
        return registry.getMetricsAsJSON()
      }),
    )
    const text = await AggregatorRegistry.aggregate(parts).metrics()
    assert.match(text, /rtb_test_total 5\n/)
  })
})
