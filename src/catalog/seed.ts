import { readFileSync } from 'node:fs'
import type { AdRecord } from './ad.js'
import { parseAdInput } from './ad-input.js'
import { type PolicyRule, parsePolicyRules } from './policy-rule.js'

/**
 * A seed file: house ads, exchange policy rules, and the data decoration reads (users, page/domain
 * context, publishers).
 */
export interface Seed {
  readonly ads: readonly AdRecord[]
  /**
   * Exchange policy rules (policy-rule.ts), folded into every catalog this instance builds. They
   * live with the configuration, not in the store: every instance reads the same seed file.
   * Absent = none.
   */
  readonly policies?: readonly PolicyRule[]
  readonly users: Readonly<Record<string, readonly string[]>>
  readonly contexts: {
    readonly domains: Readonly<Record<string, SeedContext>>
    readonly pages: Readonly<Record<string, SeedContext>>
  }
  readonly publishers: Readonly<Record<string, SeedPublisher>>
}

export interface SeedContext {
  readonly categories: readonly string[]
  readonly brandSafetyFlags: readonly string[]
  readonly sentiment: 'positive' | 'neutral' | 'negative' | null
}

export interface SeedPublisher {
  readonly floorCpm: number | null
  readonly bcat: readonly string[]
  readonly badv: readonly string[]
}

/** Reads and checks a seed file; every bad entry is reported at once. */
export function loadSeedFile(path: string): Seed {
  const raw: unknown = JSON.parse(readFileSync(path, 'utf8'))
  return parseSeed(raw, path)
}

export function parseSeed(raw: unknown, origin: string): Seed {
  if (typeof raw !== 'object' || raw === null) throw new Error(`${origin}: a seed must be a JSON object`)
  const r = raw as Record<string, unknown>
  const problems: string[] = []
  const ads: AdRecord[] = []
  const adsRaw = r['ads'] ?? []
  if (!Array.isArray(adsRaw)) problems.push('ads must be an array')
  else
    adsRaw.forEach((a, i) => {
      const parsed = parseAdInput(a)
      if ('ad' in parsed) ads.push(parsed.ad)
      else problems.push(`ads[${i}]: ${parsed.problems.join('; ')}`)
    })
  let policies: readonly PolicyRule[] = []
  if (r['policies'] !== undefined) {
    const parsed = parsePolicyRules(r['policies'])
    if ('problems' in parsed) problems.push(...parsed.problems)
    else policies = parsed.rules
  }
  if (problems.length > 0) throw new Error(`${origin}: invalid seed:\n  - ${problems.join('\n  - ')}`)
  const contexts = (r['contexts'] ?? {}) as Record<string, Record<string, SeedContext>>
  return {
    ads,
    policies,
    users: (r['users'] ?? {}) as Record<string, string[]>,
    contexts: { domains: contexts['domains'] ?? {}, pages: contexts['pages'] ?? {} },
    publishers: (r['publishers'] ?? {}) as Record<string, SeedPublisher>,
  }
}
