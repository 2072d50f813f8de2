import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import type { TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'

/*
 * The public fixtures (IAB OpenRTB examples, Prebid Server samples) live beside the project in
 * ../shared/fixtures and are read in place, never copied in: they carry their own licences and
 * INDEX.md files. A checkout without them skips the fixture tests loudly; CI sets REQUIRE_SHARED=1
 * so that a missing folder fails instead of passing quietly.
 */

let cachedDir: string | null | undefined
let hasWarned = false

/** The project root: the nearest folder above this file (src/ or dist/src/) that holds package.json. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir)
    if (parent === dir) return process.cwd()
    dir = parent
  }
  return dir
}

/** Absolute path of ../shared/fixtures (relative to the project root), or null when it is missing. */
export function sharedFixturesDir(): string | null {
  if (cachedDir === undefined) {
    const dir = resolve(projectRoot(), '..', 'shared', 'fixtures')
    cachedDir = existsSync(dir) ? dir : null
  }
  return cachedDir
}

/**
 * The fixtures folder for a test, or null after marking the test skipped (with a loud note on
 * stderr). With REQUIRE_SHARED=1 a missing folder fails the test instead.
 */
export function skipUnlessShared(t: TestContext): string | null {
  const dir = sharedFixturesDir()
  if (dir !== null) return dir
  const expected = resolve(projectRoot(), '..', 'shared', 'fixtures')
  if (process.env['REQUIRE_SHARED'] === '1') {
    throw new Error(`REQUIRE_SHARED=1 but the shared fixtures are missing: ${expected}`)
  }
  if (!hasWarned) {
    hasWarned = true
    process.stderr.write(
      `\n*** SKIPPED: ../shared/fixtures not found — shared fixture tests skipped (looked in ${expected}; ` +
        'set REQUIRE_SHARED=1 to make this a failure) ***\n\n',
    )
  }
  t.skip('../shared/fixtures not found')
  return null
}
