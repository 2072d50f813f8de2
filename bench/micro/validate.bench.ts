/**
 * Micro-benchmark of the validate stage on the IAB "expandable creative" example request.
 * Run: `npx tsc -p tsconfig.json && node dist/bench/micro/validate.bench.js`. Prints the median ns/op
 * of 7 reps; JSON.parse alone is printed too, so the cost of validation proper can be read off.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseBidRequest, validateBidRequest } from '../../src/stages/validate/validate-request.js'
import { sharedFixturesDir } from '../../src/testing/shared-fixtures.js'

const WARMUP_OPS = 200_000
const OPS_PER_REP = 200_000
const REPS = 7

/** Keeps results alive so the JIT cannot drop the work. */
let sink = 0

function medianNsPerOp(op: () => number): number {
  for (let i = 0; i < WARMUP_OPS; i++) sink += op()
  const samples: number[] = []
  for (let rep = 0; rep < REPS; rep++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < OPS_PER_REP; i++) sink += op()
    samples.push(Number(process.hrtime.bigint() - start) / OPS_PER_REP)
  }
  samples.sort((a, b) => a - b)
  return samples[REPS >> 1]!
}

function report(name: string, nsPerOp: number): void {
  console.log(`${name.padEnd(42)} ${nsPerOp.toFixed(0).padStart(7)} ns/op`)
}

function main(): void {
  const fixtures = sharedFixturesDir()
  if (fixtures === null) {
    console.error('SKIPPED: ../shared/fixtures not found — the validate benchmark needs its example request')
    process.exitCode = 1
    return
  }
  const text = readFileSync(join(fixtures, 'openrtb/v2.6/requests/02-expandable-creative.json'), 'utf8')
  const compact = JSON.stringify(JSON.parse(text))
  const parsed: unknown = JSON.parse(compact)
  if (!validateBidRequest(parsed).ok) throw new Error('the example request should be valid')

  console.log(`02-expandable-creative.json: median of ${REPS} reps × ${OPS_PER_REP} ops`)
  report(
    `JSON.parse only, file text (${text.length} B)`,
    medianNsPerOp(() => (JSON.parse(text) === null ? 0 : 1)),
  )
  report(
    `parseBidRequest, file text (${text.length} B)`,
    medianNsPerOp(() => (parseBidRequest(text).ok ? 1 : 0)),
  )
  report(
    `parseBidRequest, compact (${compact.length} B)`,
    medianNsPerOp(() => (parseBidRequest(compact).ok ? 1 : 0)),
  )
  report(
    'validateBidRequest, parsed object',
    medianNsPerOp(() => (validateBidRequest(parsed).ok ? 1 : 0)),
  )
  if (sink === 0) console.log('(no work done)')
}

main()
