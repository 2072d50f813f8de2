#!/usr/bin/env node
// Runs every compiled test file under dist/ with node's test runner.
// Node 20's `--test` takes no glob, so the files are listed here. Extra arguments filter by path substring.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
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
const concurrency = process.env.TEST_CONCURRENCY ?? '2'
const result = spawnSync(
  process.execPath,
  ['--enable-source-maps', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit' },
)
process.exit(result.status ?? 1)
