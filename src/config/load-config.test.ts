import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { ExchangeError } from '../errors.js'
import { loadConfig } from './load-config.js'

function configFile(content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'rtb-config-'))
  const path = join(dir, 'exchange.json')
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content))
  return path
}

describe('loadConfig', () => {
  it('with nothing configured: demo mode and the documented defaults', () => {
    const c = loadConfig({})
    assert.equal(c.demo, true)
    assert.equal(c.port, 8080)
    assert.equal(c.workers, 1)
    assert.equal(c.dragonflyUrl, null)
    assert.equal(c.adminToken, null)
    assert.equal(c.maxBodyBytes, 256 * 1024)
    assert.deepEqual(
      [c.auction.defaultTmaxMs, c.auction.maxTmaxMs, c.auction.priceIncrement, c.auction.currency],
      [100, 100, 0.01, 'USD'],
    )
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.auction))
  })

  it('reads the file, then the environment wins', () => {
    const path = configFile({
      port: 9000,
      dragonflyUrl: 'redis://127.0.0.1:6379',
      auction: { defaultTmaxMs: 80, maxTmaxMs: 90, priceIncrement: 0.05 },
      dsps: [
        { id: 'dsp-a', endpoint: 'http://127.0.0.1:9001/bid', timeoutMs: 70, maxQps: 2000, connections: 8 },
      ],
      seed: 'seed.json',
    })
    const c = loadConfig({
      EXCHANGE_CONFIG: path,
      PORT: '9100',
      WORKERS: '2',
      LOG_LEVEL: 'warn',
      ADMIN_TOKEN: 'a'.repeat(32),
    })
    assert.equal(c.demo, false)
    assert.equal(c.port, 9100)
    assert.equal(c.workers, 2)
    assert.equal(c.logLevel, 'warn')
    assert.equal(c.adminToken, 'a'.repeat(32))
    assert.equal(c.dragonflyUrl, 'redis://127.0.0.1:6379')
    assert.equal(c.auction.maxTmaxMs, 90)
    assert.deepEqual(c.dsps[0], {
      id: 'dsp-a',
      endpoint: 'http://127.0.0.1:9001/bid',
      timeoutMs: 70,
      maxQps: 2000,
      connections: 8,
      seat: 'dsp-a',
      gzipRequest: false,
      maxResponseBytes: 256 * 1024,
    })
    assert.ok(c.seed?.endsWith('seed.json'))
  })

  it('refuses WORKERS > 1 without DRAGONFLY_URL (the embedded store is per thread)', () => {
    assert.throws(() => loadConfig({ WORKERS: '2' }), /workers > 1 needs DRAGONFLY_URL/)
    assert.equal(loadConfig({ WORKERS: '2', DRAGONFLY_URL: 'redis://127.0.0.1:6379' }).workers, 2)
  })

  it('DRAGONFLY_URL alone leaves demo mode', () =>
    assert.equal(loadConfig({ DRAGONFLY_URL: 'redis://h:1' }).demo, false))

  it('lists every problem at once', () => {
    const path = configFile({
      port: 'eighty',
      auction: { defaultTmaxMs: 200, maxTmaxMs: 100 },
      dsps: [
        { id: 'a', endpoint: 'not a url', timeoutMs: -1 },
        { endpoint: 'http://x/bid' },
        { id: 'a', endpoint: 'http://y/bid' },
      ],
    })
    assert.throws(
      () => loadConfig({ EXCHANGE_CONFIG: path, WORKERS: '0', LOG_LEVEL: 'loud' }),
      (err: unknown) => {
        assert.ok(err instanceof ExchangeError)
        assert.equal(err.code, 'EX_ERR_CONFIG_INVALID')
        for (const part of [
          'port',
          'workers',
          'logLevel',
          'defaultTmaxMs must not exceed',
          'dsps[0].endpoint',
          'dsps[0].timeoutMs',
          'dsps[1].id is required',
          'duplicate id "a"',
        ]) {
          assert.ok(err.message.includes(part), `missing "${part}" in:\n${err.message}`)
        }
        return true
      },
    )
  })

  it('reports an unreadable or non-JSON file', () => {
    assert.throws(() => loadConfig({ EXCHANGE_CONFIG: '/nonexistent/x.json' }), /ENOENT/)
    assert.throws(() => loadConfig({ EXCHANGE_CONFIG: configFile('{ nope') }), /JSON/)
  })
})
