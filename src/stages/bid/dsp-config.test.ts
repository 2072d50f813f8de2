import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { configFromObject } from '../../config/load-config.js'
import { ExchangeError } from '../../errors.js'

const DSP = { id: 'dsp-a', endpoint: 'http://127.0.0.1:9001/bid' }

describe('DSP config fields for shaping and adapters', () => {
  it('an existing config reads as before: the new fields stay absent (defaults apply where used)', () => {
    const dsp = configFromObject({ dsps: [DSP] }).dsps[0]!
    for (const field of ['adapter', 'mediaTypes', 'formats', 'countries', 'dealsOnly', 'explorationRate']) {
      assert.equal(field in dsp, false, field)
    }
  })

  it('reads targeting, the adapter, exploration and keep-alive', () => {
    const dsp = configFromObject({
      dsps: [
        {
          ...DSP,
          adapter: 'openrtb25',
          mediaTypes: ['banner', 'video'],
          formats: ['300x250', '728x90'],
          countries: ['USA', 'CAN'],
          dealsOnly: true,
          explorationRate: 0.05,
          keepAliveMs: 15_000,
        },
      ],
    }).dsps[0]!
    assert.equal(dsp.adapter, 'openrtb25')
    assert.deepEqual(dsp.mediaTypes, ['banner', 'video'])
    assert.deepEqual(dsp.formats, ['300x250', '728x90'])
    assert.deepEqual(dsp.countries, ['USA', 'CAN'])
    assert.equal(dsp.dealsOnly, true)
    assert.equal(dsp.explorationRate, 0.05)
    assert.equal(dsp.keepAliveMs, 15_000)
  })

  it('lists every bad field at once', () => {
    assert.throws(
      () =>
        configFromObject({
          dsps: [
            {
              ...DSP,
              adapter: 'openrtb30',
              mediaTypes: ['banner', 'hologram'],
              formats: '300x250',
              countries: ['us'],
              explorationRate: 1.5,
            },
          ],
        }),
      (err: unknown) => {
        assert.ok(err instanceof ExchangeError)
        for (const field of ['adapter', 'mediaTypes', 'formats', 'countries', 'explorationRate']) {
          assert.match(err.message, new RegExp(`dsps\\[0\\]\\.${field}`))
        }
        return true
      },
    )
  })
})
