#!/usr/bin/env node
// Runs every compiled test file under dist/ with node's test runner, in two phases:
//   1. `*.test.js` files, two at a time;
//   2. `*.serial.test.js` files, one at a time: end-to-end tests whose assertions involve wall-clock
//      deadlines (overload, shutdown), so they do not share the 2-core machine with other suites.
// Node 20's `--test` takes no glob, so the files are listed here. Extra arguments filter by path
// substring. Prints one closing line over both phases: "tests: N passed, M failed, K skipped".
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

function findTests(dir, found = []) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) findTests(path, found)
    else if (name.endsWith('.test.js')) found.push(path)
  }
  return found
}

const filters = process.argv.slice(2)
const files = findTests('dist').filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
if (files.length === 0) {
  console.error('no test files found under dist/ (did the build run?)')
  process.exit(1)
}
const parallel = files.filter((f) => !f.endsWith('.serial.test.js'))
const serial = files.filter((f) => f.endsWith('.serial.test.js'))
const tapDir = mkdtempSync(join(tmpdir(), 'rtb-tests-'))
const totals = { pass: 0, fail: 0, skipped: 0, todo: 0, cancelled: 0 }
let status = 0

for (const [phase, list, concurrency] of [
  ['parallel', parallel, process.env.TEST_CONCURRENCY ?? '2'],
  ['serial', serial, '1'],
]) {
  if (list.length === 0) continue
  const tap = join(tapDir, `${phase}.tap`)
  const result = spawnSync(
    process.execPath,
    [
      '--enable-source-maps',
      '--test',
      `--test-concurrency=${concurrency}`,
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tap}`,
      ...list,
    ],
    { stdio: 'inherit' },
  )
  if (result.status !== 0) status = result.status ?? 1
  const text = readFileSync(tap, 'utf8')
  for (const key of Object.keys(totals)) {
    const m = new RegExp(`^# ${key} (\\d+)$`, 'm').exec(text)
    totals[key] += m ? Number(m[1]) : 0
  }
}

console.log(
  `\ntests: ${totals.pass} passed, ${totals.fail + totals.cancelled} failed, ${totals.skipped} skipped`,
)
if (totals.pass === 0) status = status || 1
process.exit(status)
