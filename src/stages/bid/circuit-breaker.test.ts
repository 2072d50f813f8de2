import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BREAKER_CLOSED, BREAKER_HALF_OPEN, BREAKER_OPEN, CircuitBreaker } from './circuit-breaker.js'

const OPTIONS = { windowMs: 1000, minFailures: 5, failureRatio: 0.5, openMs: 100, maxOpenMs: 400, probes: 2 }

function failBurst(b: CircuitBreaker, at: number, n: number): void {
  for (let i = 0; i < n; i++) b.onResult(true, at)
}

describe('CircuitBreaker', () => {
  it('stays closed for scattered failures among successes', () => {
    const b = new CircuitBreaker(OPTIONS)
    for (let i = 0; i < 100; i++) b.onResult(i % 4 === 0, i * 5) // 25% failures
    assert.equal(b.state, BREAKER_CLOSED)
    assert.ok(b.allows(500))
  })

  it('opens on a burst, refuses while open, half-opens after openMs with a bounded number of probes', () => {
    const b = new CircuitBreaker(OPTIONS)
    failBurst(b, 0, 5)
    assert.equal(b.state, BREAKER_OPEN)
    assert.equal(b.allows(50), false)
    assert.equal(b.allows(100), true)
    assert.equal(b.state, BREAKER_HALF_OPEN)
    b.onSent()
    assert.equal(b.allows(101), true)
    b.onSent()
    assert.equal(b.allows(102), false, 'only `probes` calls while half-open')
  })

  it('closes when every probe succeeds', () => {
    const b = new CircuitBreaker(OPTIONS)
    failBurst(b, 0, 5)
    b.allows(100)
    b.onSent()
    b.onSent()
    b.onResult(false, 110)
    b.onResult(false, 111)
    assert.equal(b.state, BREAKER_CLOSED)
    assert.ok(b.allows(112))
  })

  it('a failed probe re-opens it for twice as long, capped at maxOpenMs', () => {
    const b = new CircuitBreaker(OPTIONS)
    failBurst(b, 0, 5)
    b.allows(100)
    b.onSent()
    b.onResult(true, 105)
    assert.equal(b.state, BREAKER_OPEN)
    assert.equal(b.allows(300), false)
    assert.equal(b.allows(305), true) // 105 + 200
    for (let k = 0; k < 4; k++) {
      b.onSent()
      b.onResult(true, 1000 * (k + 1))
      b.allows(1000 * (k + 1) + 400)
    }
    b.onSent()
    b.onResult(true, 9000)
    assert.equal(b.allows(9399), false)
    assert.equal(b.allows(9400), true)
  })

  it('probes lost with their auction do not wedge it half-open', () => {
    const b = new CircuitBreaker(OPTIONS)
    failBurst(b, 0, 5)
    b.allows(100)
    b.onSent()
    b.onSent()
    assert.equal(b.allows(150), false)
    assert.equal(b.allows(201), true)
  })
})
