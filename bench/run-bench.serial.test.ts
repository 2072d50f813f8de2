import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const RUN_BENCH = join(dirname(fileURLToPath(import.meta.url)), 'run-bench.js')

interface QuickResult {
  readonly name: string
  readonly error: string | null
  readonly closed: { load: { okThroughput: number }; serverCpuUsPerRequest: number } | null
  readonly open: readonly { loadShare: number | null; load: { responses: number } }[]
}

/**
 * `npm run bench -- --quick` is CI's benchmark: this runs it on the ceiling and the exchange (real
 * processes on loopback, ~30 s) and checks that it measured something and printed the table. The
 * figures themselves are not judged here: CI machines are shared and noisy (bench/README.md).
 */
describe('benchmark harness, --quick', () => {
  it('measures the ceiling and the exchange and prints the table', { timeout: 120_000 }, (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-quick-'))
    try {
      const jsonPath = join(dir, 'quick.json')
      const startedAt = performance.now()
      const run = spawnSync(
        process.execPath,
        [RUN_BENCH, '--quick', '--scenario', 'ceiling,exchange', '--json', jsonPath],
        { encoding: 'utf8', timeout: 110_000 },
      )
      const seconds = (performance.now() - startedAt) / 1000
      assert.equal(run.status, 0, `exit ${run.status}\n${run.stdout}\n${run.stderr}`)
      // Reported, not asserted: how long it takes depends on the machine (timed unit tests flake).
      t.diagnostic(`--quick on two scenarios took ${seconds.toFixed(0)} s`)
      assert.match(run.stdout, /Saturation \(closed loop\)/)
      assert.match(run.stdout, /\| ceiling +\| [\d,]+ +\| [\d.]+ /)
      assert.match(run.stdout, /\| exchange +\| [\d,]+ +\| [\d.]+ /)
      const results = (JSON.parse(readFileSync(jsonPath, 'utf8')) as { scenarios: QuickResult[] }).scenarios
      for (const name of ['ceiling', 'exchange']) {
        const r = results.find((x) => x.name === name)
        assert.ok(r, `${name} missing from the JSON`)
        assert.equal(r.error, null)
        assert.ok(r.closed !== null && r.closed.load.okThroughput > 0, `${name}: no 2xx at saturation`)
        assert.ok(r.closed.serverCpuUsPerRequest > 0, `${name}: no server CPU measured`)
        assert.deepEqual(
          r.open.map((m) => m.loadShare),
          [0.25, 0.5, 0.75],
        )
        assert.ok(
          r.open.every((m) => m.load.responses > 0),
          `${name}: an open loop got no answers`,
        )
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
