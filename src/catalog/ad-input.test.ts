import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { adToJson, parseAdInput } from './ad-input.js'

const base = {
  id: 'h1',
  title: 'House 1',
  category: 'IAB1',
  clickURL: 'https://a.example/c',
  imageURL: 'https://a.example/i.png',
  price: '1.50',
  sizes: ['300x250'],
  adomain: 'a.example',
}

describe('parseAdInput: selection fields', () => {
  it('an ad written before targeting grew still reads, with every new field open', () => {
    const parsed = parseAdInput(base)
    assert.ok('ad' in parsed)
    assert.equal(parsed.ad.mediaType, undefined)
    assert.deepEqual(parsed.ad.targeting.regions, [])
    assert.equal(parsed.ad.targeting.daypart, undefined)
  })

  it('reads the whole targeting model and round-trips through adToJson', () => {
    const input = {
      ...base,
      mediaType: 'video',
      status: 'paused',
      flight: { start: '2026-06-01T00:00:00Z', end: '2026-07-01T00:00:00+02:00' },
      targeting: {
        countries: ['USA'],
        regions: ['USA-CA'],
        deviceTypes: [4, 5],
        os: ['iOS'],
        domains: ['news.example'],
        publishers: ['pub-1'],
        blockedPublishers: ['pub-9'],
        pageCategories: ['IAB12'],
        userCategories: ['IAB19'],
        daypart: { days: [1, 2, 3, 4, 5], hours: [9, 10, 11], timezone: '-05:00' },
        keyValues: { section: ['sports', 'news'] },
      },
    }
    const parsed = parseAdInput(input)
    assert.ok('ad' in parsed, JSON.stringify(parsed))
    const ad = parsed.ad
    assert.equal(ad.mediaType, 'video')
    assert.equal(ad.status, 'paused')
    assert.deepEqual(ad.flight, { startMs: Date.UTC(2026, 5, 1), endMs: Date.UTC(2026, 5, 30, 22) })
    assert.deepEqual(ad.targeting.daypart, {
      days: [1, 2, 3, 4, 5],
      hours: [9, 10, 11],
      utcOffsetMinutes: -300,
    })
    assert.deepEqual(ad.targeting.keyValues, { section: ['sports', 'news'] })
    const again = parseAdInput(adToJson(ad))
    assert.ok('ad' in again)
    assert.deepEqual(again.ad, ad)
  })

  it('reports bad selection fields with the rest', () => {
    const parsed = parseAdInput({
      ...base,
      mediaType: 'hologram',
      flight: { start: '2026-06-01', end: 5 },
      targeting: { daypart: { hours: [25], timezone: 'Europe/Paris' }, keyValues: { 'bad key': ['x'] } },
    })
    assert.ok('problems' in parsed)
    assert.equal(parsed.problems.length, 5, parsed.problems.join('\n'))
  })
})
