import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { configFromObject } from '../../config/load-config.js'
import { ExchangeError } from '../../errors.js'
import { ExchangeMetrics } from '../../metrics/metrics.js'
import { closeDspPools, createDspEndpoints } from './dsp-endpoints.js'

const DSP = { id: 'dsp-a', endpoint: 'http://127.0.0.1:9001/bid' }

describe('DSP config fields for shaping and adapters', () => {
  it('an existing config reads as before: the new fields stay absent (defaults apply where used)', () => {
    const dsp = configFromObject({ dsps: [DSP] }).dsps[0]!
    for (const field of [
      'adapter',
      'mediaTypes',
      'formats',
      'countries',
      'dealsOnly',
      'explorationRate',
      'transport',
    ]) {
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

  it('the DSP transport: socket by default, DSP_TRANSPORT or dspTransport for all, a DSP may name its own', () => {
    assert.equal(configFromObject({ dsps: [DSP] }).dspTransport, 'socket')
    assert.equal(configFromObject({ dspTransport: 'undici', dsps: [DSP] }).dspTransport, 'undici')
    assert.equal(
      configFromObject({ dspTransport: 'undici' }, { DSP_TRANSPORT: 'socket' }).dspTransport,
      'socket',
    )
    const dsp = configFromObject({ dsps: [{ ...DSP, transport: 'undici' }] }).dsps[0]!
    assert.equal(dsp.transport, 'undici')
  })

  it('refuses an unknown transport, and the socket transport for an https DSP', () => {
    assert.throws(
      () =>
        configFromObject({
          dspTransport: 'carrier-pigeon',
          dsps: [
            { ...DSP, transport: 'smoke' },
            { id: 'tls', endpoint: 'https://dsp.example/bid', transport: 'socket' },
          ],
        }),
      (err: unknown) => {
        assert.ok(err instanceof ExchangeError)
        assert.match(err.message, /dspTransport/)
        assert.match(err.message, /dsps\[0\]\.transport/)
        assert.match(err.message, /dsps\[1\]\.transport: "socket" supports http:\/\/ endpoints only/)
        return true
      },
    )
  })

  it('each DSP gets the transport asked for; an https DSP left to the socket default gets undici', async () => {
    const config = configFromObject({
      dsps: [
        DSP,
        { id: 'dsp-b', endpoint: 'http://127.0.0.1:9002/bid', transport: 'undici' },
        { id: 'dsp-tls', endpoint: 'https://dsp.example/bid' },
      ],
    })
    const metrics = new ExchangeMetrics(
      config.dsps.map((d) => d.id),
      { defaultMetrics: false },
    )
    const endpoints = createDspEndpoints(config.dsps, (id) => metrics.dsps.get(id)!, {
      transport: config.dspTransport,
    })
    assert.deepEqual(
      endpoints.map((e) => e.transport.name),
      ['socket', 'undici', 'undici'],
    )
    const allUndici = createDspEndpoints(config.dsps, (id) => metrics.dsps.get(id)!, { transport: 'undici' })
    assert.deepEqual(
      allUndici.map((e) => e.transport.name),
      ['undici', 'undici', 'undici'],
    )
    await closeDspPools([...endpoints, ...allUndici])
  })
})
