import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { AUCTION_OUTCOMES, ExchangeMetrics } from '../metrics/metrics.js'
import { bidResponse, type MockDsp, startMockDsp } from '../testing/mock-dsp.js'
import {
  type PrometheusApiAnswer,
  requirePrometheusTool,
  runTool,
  startPrometheus,
} from '../testing/prometheus.js'
import { bannerRequest, startTestExchange, type TestExchange } from '../testing/test-exchange.js'
import {
  dashboardExpressions,
  type Json,
  REPO_ROOT,
  readJson,
  readYaml,
  repoPath,
  ruleList,
} from './deploy-files.js'

/**
 * The Prometheus side, checked by Prometheus's own tools: promtool on the config, the alert rules
 * (syntax and unit tests) and the exchange's exposition format, then a real Prometheus scraping a
 * real exchange, evaluating the alert rules and every dashboard query.
 * Without promtool/prometheus: a loud skip locally, a failure in CI (src/testing/prometheus.ts).
 */

/**
 * prom-client's default metrics that `promtool check metrics` flags: gauges named *_total. They
 * are the library's names (dashboards everywhere use them), not ours; any other problem fails.
 */
const PROM_CLIENT_LINT_EXCEPTIONS = new Set([
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
])

/** Grafana's variables, replaced the way Grafana would for an "All instances" view. */
function asPromQl(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '15s')
    .replaceAll('$__range', '5m')
    .replaceAll('$instance', '.*')
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>): Promise<T> {
  const giveUpAt = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== null) return value
    if (Date.now() > giveUpAt) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

function resultOf(answer: PrometheusApiAnswer): Json[] {
  assert.equal(answer.status, 'success', `${answer.errorType}: ${answer.error}`)
  return ((answer.data as Json | undefined)?.['result'] ?? []) as Json[]
}

describe('promtool on the deployment files', () => {
  it('check config: deploy/prometheus/prometheus.yml and the rule file it names', async (t) => {
    const promtool = requirePrometheusTool(t, 'promtool')
    if (promtool === null) return
    const run = await runTool(promtool, ['check', 'config', 'deploy/prometheus/prometheus.yml'], {
      cwd: REPO_ROOT,
    })
    assert.equal(run.code, 0, run.stdout + run.stderr)
    assert.match(run.stdout + run.stderr, /SUCCESS: 1 rule files found/)
  })

  it('check rules: deploy/prometheus/alerts.yml', async (t) => {
    const promtool = requirePrometheusTool(t, 'promtool')
    if (promtool === null) return
    const run = await runTool(promtool, ['check', 'rules', 'deploy/prometheus/alerts.yml'], {
      cwd: REPO_ROOT,
    })
    assert.equal(run.code, 0, run.stdout + run.stderr)
    const count = ruleList(readYaml('deploy/prometheus/alerts.yml')).length
    assert.match(run.stdout, new RegExp(`SUCCESS: ${count} rules found`))
  })

  it('test rules: the alert unit tests in deploy/prometheus/alerts.test.yml pass', async (t) => {
    const promtool = requirePrometheusTool(t, 'promtool')
    if (promtool === null) return
    const run = await runTool(promtool, ['test', 'rules', 'deploy/prometheus/alerts.test.yml'], {
      cwd: REPO_ROOT,
    })
    assert.equal(run.code, 0, run.stdout + run.stderr)
    assert.match(run.stdout, /SUCCESS/)
  })
})

describe("promtool and a real Prometheus on the exchange's /metrics", () => {
  let dsp: MockDsp
  let exchange: TestExchange

  before(async () => {
    dsp = await startMockDsp((r) => ({
      kind: 'respond',
      status: 200,
      body: bidResponse(r['id'], [{ impid: '1', price: 1.25, adid: 'ad-1' }]),
    }))
    exchange = await startTestExchange({ dsps: [{ id: 'dsp-a', endpoint: dsp.url, timeoutMs: 80 }] })
    for (let i = 0; i < 5; i++) await exchange.auction(bannerRequest({ id: `prom-${i}` }))
    await exchange.auction('{not json')
  })
  after(async () => {
    await exchange.close()
    await dsp.close()
  })

  it('check metrics: no problem in the exposition of the exchange metrics', async (t) => {
    const promtool = requirePrometheusTool(t, 'promtool')
    if (promtool === null) return
    const res = await fetch(`${exchange.url}/metrics`)
    const text = await res.text()
    assert.match(text, /^rtb_auctions_total\{outcome="bid"\} [1-9]/m, 'auctions ran before the check')
    const run = await runTool(promtool, ['check', 'metrics'], { input: text })
    assert.equal(`${run.stdout}${run.stderr}`.trim(), '', 'promtool reported problems')
    assert.equal(run.code, 0)
  })

  it("check metrics: with Node's default metrics too, only prom-client's own *_total gauges are flagged", async (t) => {
    const promtool = requirePrometheusTool(t, 'promtool')
    if (promtool === null) return
    const metrics = new ExchangeMetrics(['dsp-a', 'dsp-b'], { defaultMetrics: true })
    const run = await runTool(promtool, ['check', 'metrics'], { input: await metrics.scrape() })
    assert.ok(run.code === 0 || run.code === 3, `exit ${run.code}: not a lint result\n${run.stderr}`)
    const problems = `${run.stdout}${run.stderr}`
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '')
    const unexpected = problems.filter((l) => !PROM_CLIENT_LINT_EXCEPTIONS.has(l.split(' ')[0]!))
    assert.deepEqual(unexpected, [], 'promtool problems outside the known prom-client defaults')
  })

  it('a real Prometheus scrapes the exchange, loads the alert rules and answers every dashboard query', {
    timeout: 30_000,
  }, async (t) => {
    const prometheusPath = requirePrometheusTool(t, 'prometheus')
    if (prometheusPath === null) return
    const target = new URL(exchange.url).host
    const config = [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'rule_files:',
      `  - ${JSON.stringify(repoPath('deploy/prometheus/alerts.yml'))}`,
      'scrape_configs:',
      '  - job_name: rtb-exchange',
      '    scrape_interval: 1s',
      '    scrape_timeout: 900ms',
      '    static_configs:',
      `      - targets: ['${target}']`,
      '',
    ].join('\n')
    const prometheus = await startPrometheus(prometheusPath, config, { startTimeoutMs: 8_000 })
    try {
      // The exchange's series arrive with the scrape job's labels.
      const series = await waitFor('rtb_auctions_total to be scraped', 8_000, async () => {
        const result = resultOf(await prometheus.query('rtb_auctions_total'))
        return result.length > 0 ? result : null
      })
      const outcomes = new Set(series.map((s) => s['metric']['outcome'] as string))
      assert.ok(outcomes.has('bid') && outcomes.has('invalid'), `outcomes scraped: ${[...outcomes]}`)
      for (const o of outcomes) assert.ok((AUCTION_OUTCOMES as readonly string[]).includes(o), o)
      for (const s of series) {
        assert.equal(s['metric']['job'], 'rtb-exchange')
        assert.equal(s['metric']['instance'], target)
      }
      const bids = series.find((s) => s['metric']['outcome'] === 'bid')
      assert.ok(Number(bids?.['value'][1]) >= 5, 'the auctions run before the scrape are counted')

      // Every alert rule loads and evaluates without error against the real series.
      const expectedRules = ruleList(readYaml('deploy/prometheus/alerts.yml')).length
      const rules = await waitFor('every alert rule to be evaluated', 6_000, async () => {
        const answer = await prometheus.api('rules')
        const all = ((answer.data as Json)['groups'] as Json[]).flatMap((g) => g['rules'] as Json[])
        return all.length === expectedRules && all.every((r) => r['health'] !== 'unknown') ? all : null
      })
      for (const r of rules) assert.equal(r['health'], 'ok', `${r['name']}: ${r['lastError']}`)

      // Every dashboard query is valid PromQL for this Prometheus; the traffic panel has data.
      await prometheus.api('label/instance/values', { 'match[]': 'rtb_auctions_total{job="rtb-exchange"}' })
      for (const { where, expr } of dashboardExpressions(
        readJson('deploy/grafana/dashboards/exchange.json'),
      )) {
        if (expr.startsWith('label_values(')) {
          const match = /^label_values\((.*), (\w+)\)$/.exec(expr)
          assert.ok(match, `${where}: ${expr}`)
          const values = await prometheus.api(`label/${match[2]}/values`, { 'match[]': match[1]! })
          assert.ok((values.data as string[]).includes(target), `${where} lists the exchange`)
          continue
        }
        const answer = await prometheus.query(asPromQl(expr))
        assert.equal(answer.status, 'success', `${where}: ${expr}\n${answer.errorType}: ${answer.error}`)
      }
      const byOutcome = dashboardExpressions(readJson('deploy/grafana/dashboards/exchange.json')).find((e) =>
        e.expr.startsWith('sum by (outcome) (rate(rtb_auctions_total'),
      )
      assert.ok(byOutcome)
      await waitFor('the requests-by-outcome panel to have data', 6_000, async () => {
        const result = resultOf(await prometheus.query(asPromQl(byOutcome.expr)))
        return result.length === outcomes.size ? result : null
      })
    } catch (err) {
      throw new Error(`${(err as Error).message}\nprometheus output:\n${prometheus.output()}`, { cause: err })
    } finally {
      await prometheus.stop()
    }
  })
})
