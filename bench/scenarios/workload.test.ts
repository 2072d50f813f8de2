import assert from 'node:assert/strict'
import { dirname, join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parseSeed } from '../../src/catalog/seed.js'
import { buildWorkload, type WorkloadSpec } from './workload.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

/**
 * Every benchmark workload's seed must be one the exchange accepts: a seed it refuses makes the
 * exchange exit at start and the scenario measure nothing (as a micros-vs-CPM mismatch once did).
 */
describe('benchmark workloads', () => {
  const specs: [string, WorkloadSpec][] = [
    ['banner', { kind: 'banner', request: 'banner-2imp.json', ads: 8, audience: null, withCampaigns: false }],
    ['demo', { kind: 'demo' }],
    [
      '10k catalog with policies',
      { kind: 'catalog', ads: 10_000, bodies: 200, users: 50, withCampaigns: true },
    ],
  ]
  for (const [name, spec] of specs) {
    it(`${name}: the seed parses as the exchange reads it`, () => {
      const workload = buildWorkload(spec, ROOT)
      const seed = parseSeed(JSON.parse(JSON.stringify(workload.seed)), `${name} seed`)
      assert.ok(seed.ads.length > 0)
      const policies = (workload.seed['policies'] as unknown[] | undefined) ?? []
      assert.equal(seed.policies?.length ?? 0, policies.length)
      assert.ok(workload.bodies.length > 0)
    })
  }
})
