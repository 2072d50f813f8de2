import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type RunningApp, startApp } from '../app.js'
import { configFromObject } from '../config/load-config.js'
import { bidResponse, type MockDsp, startMockDsp } from '../testing/mock-dsp.js'
import { bannerRequest } from '../testing/test-exchange.js'
import {
  dashboardExpressions,
  exposedMetricTypes,
  isExposedSeries,
  metricNamesIn,
  readJson,
  readYaml,
  ruleList,
} from './deploy-files.js'

const SILENT_LOG = { info() {}, warn() {}, error() {} } as never

/**
 * Every metric the dashboard and the alert rules read must be one the exchange exports: a renamed
 * or removed metric would otherwise leave an empty panel or an alert that can never fire. The
 * names come from the live /metrics of a real exchange with Node's default metrics on, as in
 * production, so metrics added later are picked up without touching this test.
 */
describe('metrics used by the dashboard and the alerts exist', () => {
  let dsp: MockDsp
  let app: RunningApp
  let types: Map<string, string>

  before(async () => {
    dsp = await startMockDsp((r) => ({
      kind: 'respond',
      status: 200,
      body: bidResponse(r['id'], [{ impid: '1', price: 1.5, adid: 'ad-1' }]),
    }))
    app = await startApp({
      config: configFromObject({
        port: 0,
        host: '127.0.0.1',
        dsps: [{ id: 'dsp-a', endpoint: dsp.url, timeoutMs: 80 }],
      }),
      log: SILENT_LOG,
      seed: null,
      defaultMetrics: true,
    })
    const base = `http://127.0.0.1:${app.port}`
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${base}/openrtb2/auction`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(bannerRequest({ id: `names-${i}` })),
      })
      await res.arrayBuffer()
    }
    const res = await fetch(`${base}/metrics`)
    assert.equal(res.status, 200)
    types = exposedMetricTypes(await res.text())
  })
  after(async () => {
    await app.drain()
    await dsp.close()
  })

  it('exports the exchange metrics and the Node/process defaults', () => {
    for (const name of ['rtb_auctions_total', 'rtb_auction_duration_seconds', 'process_cpu_seconds_total']) {
      assert.ok(types.has(name), `${name} in /metrics`)
    }
    assert.ok(types.has('nodejs_eventloop_lag_p99_seconds'))
  })

  it('has every metric of the Grafana dashboard', () => {
    const dashboard = readJson('deploy/grafana/dashboards/exchange.json')
    const missing: string[] = []
    const seen = new Set<string>()
    for (const { where, expr } of dashboardExpressions(dashboard)) {
      for (const name of metricNamesIn(expr)) {
        seen.add(name)
        if (!isExposedSeries(name, types)) missing.push(`${where}: ${name}`)
      }
    }
    assert.ok(seen.size >= 15, `the dashboard reads ${seen.size} metrics`)
    assert.deepEqual(missing, [], 'dashboard metrics the exchange does not export')
  })

  it('has every metric of the alert rules', () => {
    const missing: string[] = []
    for (const rule of ruleList(readYaml('deploy/prometheus/alerts.yml'))) {
      for (const name of metricNamesIn(String(rule['expr']))) {
        if (!isExposedSeries(name, types)) missing.push(`${rule['alert']}: ${name}`)
      }
    }
    assert.deepEqual(missing, [], 'alert metrics the exchange does not export')
  })

  it('extracts metric names, not label values or histogram suffixes of unknown metrics', () => {
    assert.deepEqual(metricNamesIn('sum by (dsp) (rate(rtb_x_total{reason="rtb_not_a_metric"}[5m]))'), [
      'rtb_x_total',
    ])
    assert.ok(isExposedSeries('rtb_auction_duration_seconds_bucket', types))
    assert.ok(!isExposedSeries('rtb_auctions_total_bucket', types))
    assert.ok(!isExposedSeries('rtb_no_such_metric', types))
  })
})
