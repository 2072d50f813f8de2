import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  capWindows,
  decodeCounterList,
  decodeCounters,
  isCapReached,
  OPEN_LIFETIME_MS,
  windowIndex,
  windowMs,
} from './frequency.js'

const NOW = 1_800_000_000_000

describe('frequency counters', () => {
  it('decodes live counters per campaign and window, dropping expired and malformed ones', () => {
    const counts = decodeCounters(
      [
        ['d/c1', `3:${NOW + 1}`],
        ['h/c1', `1:${NOW + 1}`],
        ['m/c1', `9:${NOW}`], // expired exactly now
        ['w/c:2', `2:${NOW + 5}`], // ids may hold ':'
        ['x/c3', `1:${NOW + 5}`], // unknown window
        ['d/c4', 'garbage'],
        ['dc5', `1:${NOW + 5}`],
      ],
      NOW,
    )
    assert.deepEqual([...counts.keys()].sort(), ['c1', 'c:2'])
    assert.deepEqual(counts.get('c1'), [0, 1, 3, 0, 0])
    assert.deepEqual(counts.get('c:2'), [0, 0, 0, 2, 0])
  })

  it('decodes the decoration script’s flat form, remembering when the store was asked', () => {
    const none = decodeCounterList('', NOW, NOW - 5)
    assert.deepEqual([none.size, none.readAtMs], [0, NOW - 5])
    assert.deepEqual(
      decodeCounterList(`d/c1=2:${NOW + 10},l/c1=7:${NOW + 10}`, NOW).get('c1'),
      [0, 0, 2, 0, 7],
    )
  })

  it('the most restrictive cap wins; local extra impressions count too', () => {
    const caps = [
      { max: 1, index: windowIndex('hour') },
      { max: 3, index: windowIndex('day') },
    ]
    assert.equal(isCapReached(caps, undefined, 0), false)
    assert.equal(isCapReached(caps, [0, 1, 1, 0, 0], 0), true) // hour cap
    assert.equal(isCapReached(caps, [0, 0, 2, 0, 0], 0), false)
    assert.equal(isCapReached(caps, [0, 0, 2, 0, 0], 1), true) // one pending here
    assert.equal(isCapReached([], [9, 9, 9, 9, 9], 9), false)
  })

  it('windows last their length; lifetime until a day past the flight, or 400 days', () => {
    assert.equal(windowMs('minute', NOW, null), 60_000)
    assert.equal(windowMs('week', NOW, null), 604_800_000)
    assert.equal(windowMs('lifetime', NOW, null), OPEN_LIFETIME_MS)
    assert.equal(windowMs('lifetime', NOW, NOW + 1_000), 1_000 + 86_400_000)
    assert.deepEqual(capWindows([{ window: 'day', max: 1 }], NOW, null), [{ letter: 'd', ms: 86_400_000 }])
  })
})
