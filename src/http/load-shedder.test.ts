import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createLoadShedder } from './load-shedder.js'

describe('load shedder', () => {
  it('sheds at the in-flight limit', () => {
    const shedder = createLoadShedder({ maxInFlight: 3, maxEventLoopLagMs: 1_000 })
    try {
      assert.equal(shedder.shedReason(2), null)
      assert.equal(shedder.shedReason(3), 'in_flight')
    } finally {
      shedder.stop()
    }
  })

  it('sheds while the event loop is blocked, and recovers once it runs again', async () => {
    const lags: number[] = []
    const shedder = createLoadShedder({
      maxInFlight: 1_000,
      maxEventLoopLagMs: 20,
      onLag: (ms) => lags.push(ms),
    })
    try {
      await new Promise((r) => setTimeout(r, 30))
      assert.equal(shedder.shedReason(0), null)
      const until = performance.now() + 60
      while (performance.now() < until) {
        // busy: the shedder's timer cannot run
      }
      assert.equal(shedder.shedReason(0), 'event_loop')
      await new Promise((r) => setTimeout(r, 50))
      assert.ok(Math.max(...lags) >= 40, `lag seen: ${Math.max(...lags)}`)
      assert.equal(shedder.shedReason(0), null)
    } finally {
      shedder.stop()
    }
  })

  it('brings deadlines in by twice the recent lag, bounded, and forgets a stall once the loop runs', async () => {
    const shedder = createLoadShedder({ maxInFlight: 1_000, maxEventLoopLagMs: 20 })
    try {
      const spin = (ms: number) => {
        const until = performance.now() + ms
        while (performance.now() < until) {
          // busy: the shedder's timer cannot run
        }
      }
      // A 25 ms stall: later auctions plan to end ~twice that early.
      spin(25)
      await new Promise((r) => setImmediate(r))
      await new Promise((r) => setTimeout(r, 1))
      const afterStall = shedder.deadlineSlackMs()
      assert.ok(afterStall >= 20, `slack after a stall: ${afterStall}`)
      // Never more than twice the shed threshold: beyond it the request is shed anyway.
      spin(200)
      assert.equal(shedder.deadlineSlackMs(), 40)
      // An idle loop for a while: the stall is forgotten.
      await new Promise((r) => setTimeout(r, 300))
      assert.equal(shedder.deadlineSlackMs(), 0)
    } finally {
      shedder.stop()
    }
  })
})
