import { loadSeedFile, type Seed } from './catalog/seed.js'
import type { Config } from './config/config.js'
import { demoSeed } from './demo/demo-seed.js'

/** The seed in force: the demo's sample data, the configured seed file, or none. */
export function loadSeed(config: Config): Seed | null {
  if (config.demo) return demoSeed()
  return config.seed === null ? null : loadSeedFile(config.seed)
}
