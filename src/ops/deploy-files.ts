import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments } from 'yaml'

/**
 * Readers for the deployment files (deploy/, docker-compose.yml), shared by the ops tests.
 * Test-only: `yaml` is a dev dependency.
 */

/** A parsed YAML/JSON document, walked freely by the tests. */
// biome-ignore lint/suspicious/noExplicitAny: test-only reader of arbitrary YAML/JSON documents
export type Json = Record<string, any>

/** The repository root: this file runs as dist/src/ops/deploy-files.js. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

export function repoPath(...parts: string[]): string {
  return join(REPO_ROOT, ...parts)
}

export function readRepoFile(rel: string): string {
  return readFileSync(repoPath(rel), 'utf8')
}

export function readJson(rel: string): Json {
  return JSON.parse(readRepoFile(rel)) as Json
}

/** Every document of a YAML file, with YAML 1.1 merge keys (`<<: *anchor`) as Compose reads them. */
export function readYamlDocuments(rel: string): { docs: Json[]; errors: string[] } {
  const errors: string[] = []
  const docs: Json[] = []
  for (const doc of parseAllDocuments(readRepoFile(rel), { merge: true, prettyErrors: true })) {
    for (const e of doc.errors) errors.push(`${rel}: ${e.message}`)
    const value: unknown = doc.toJS()
    if (value !== null && value !== undefined) docs.push(value as Json)
  }
  return { docs, errors }
}

/** The single document of a YAML file; throws on any parse error. */
export function readYaml(rel: string): Json {
  const { docs, errors } = readYamlDocuments(rel)
  if (errors.length > 0) throw new Error(errors.join('\n'))
  if (docs.length !== 1) throw new Error(`${rel}: expected one YAML document, found ${docs.length}`)
  return docs[0]!
}

/** Repository-relative paths of the files under `relDir` whose names end with one of `suffixes`. */
export function listRepoFiles(relDir: string, suffixes: readonly string[]): string[] {
  const found: string[] = []
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) walk(path)
      else if (suffixes.some((s) => name.endsWith(s))) found.push(relative(REPO_ROOT, path))
    }
  }
  if (existsSync(repoPath(relDir))) walk(repoPath(relDir))
  return found
}

/**
 * Compose's variable interpolation for the forms this repository uses: `${VAR}`, `${VAR:-default}`
 * and `${VAR-default}`, against `env` (the tests use an empty one: the documented defaults).
 */
export function interpolate(value: string, env: Readonly<Record<string, string | undefined>> = {}): string {
  return value.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}/g,
    (_m, name: string, op?: string, fallback?: string) => {
      const v = env[name]
      if (op === ':-') return v === undefined || v === '' ? (fallback ?? '') : v
      if (op === '-') return v === undefined ? (fallback ?? '') : v
      return v ?? ''
    },
  )
}

/** A Compose environment block (map or KEY=VALUE list) as a map, interpolated. */
export function composeEnvironment(service: Json): Record<string, string> {
  const out: Record<string, string> = {}
  const env: unknown = service['environment'] ?? {}
  if (Array.isArray(env)) {
    for (const item of env as string[]) {
      const at = item.indexOf('=')
      if (at > 0) out[item.slice(0, at)] = interpolate(item.slice(at + 1))
    }
  } else {
    for (const [k, v] of Object.entries(env as Record<string, unknown>)) out[k] = interpolate(String(v ?? ''))
  }
  return out
}

export interface BindMount {
  /** Repository-relative host path. */
  readonly source: string
  /** Path inside the container. */
  readonly target: string
}

/** The service's bind mounts of repository paths (short syntax `./host:/container[:ro]`). */
export function bindMounts(service: Json): BindMount[] {
  const mounts: BindMount[] = []
  for (const v of (service['volumes'] ?? []) as unknown[]) {
    if (typeof v !== 'string' || !v.startsWith('.')) continue
    const [source, target] = v.split(':')
    if (source !== undefined && target !== undefined) mounts.push({ source: relative('.', source), target })
  }
  return mounts
}

/** Maps a path inside the container back to the repository through the service's bind mounts. */
export function hostPathOf(service: Json, containerPath: string): string | null {
  for (const m of bindMounts(service)) {
    if (containerPath === m.target) return m.source
    if (containerPath.startsWith(`${m.target}/`))
      return join(m.source, containerPath.slice(m.target.length + 1))
  }
  return null
}

export interface DockerInstruction {
  readonly keyword: string
  readonly args: string
  /** Index of the build stage (0 = first FROM). */
  readonly stage: number
}

/** Dockerfile instructions, continuation lines joined, comments and parser directives dropped. */
export function parseDockerfile(text: string): DockerInstruction[] {
  const out: DockerInstruction[] = []
  let stage = -1
  let pending = ''
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (pending === '' && (line === '' || line.startsWith('#'))) continue
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `
      continue
    }
    const full = (pending + line).trim()
    pending = ''
    const match = /^(\S+)\s*(.*)$/.exec(full)
    if (match === null) continue
    const keyword = match[1]!.toUpperCase()
    if (keyword === 'FROM') stage++
    out.push({ keyword, args: match[2]!.replace(/\s+/g, ' '), stage })
  }
  return out
}

/** Dragonfly's memory flags ("1gb", "768mb", "1536mb", plain bytes) in bytes. */
export function dragonflyBytes(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb|k|m|g|t|kib|mib|gib|tib)?$/i.exec(value.trim())
  if (m === null) throw new Error(`not a Dragonfly memory size: ${value}`)
  const unit = (m[2] ?? 'b').toLowerCase().replace(/i?b$/, '')
  const power = { '': 0, k: 1, m: 2, g: 3, t: 4 }[unit] ?? 0
  return Number(m[1]) * 1024 ** power
}

/** The value of a `--flag=value` argument, or null. */
export function flagValue(args: readonly string[], flag: string): string | null {
  for (const a of args) if (a.startsWith(`${flag}=`)) return a.slice(flag.length + 1)
  return null
}

/** Every PromQL expression of a Grafana dashboard: panel targets (rows included) and variable queries. */
export function dashboardExpressions(dashboard: Json): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = []
  const visit = (panels: Json[]): void => {
    for (const p of panels) {
      for (const t of (p['targets'] ?? []) as Json[]) {
        if (typeof t['expr'] === 'string')
          out.push({ where: `panel "${p['title']}" ${t['refId']}`, expr: t['expr'] })
      }
      visit((p['panels'] ?? []) as Json[])
    }
  }
  visit((dashboard['panels'] ?? []) as Json[])
  for (const v of (dashboard['templating']?.['list'] ?? []) as Json[]) {
    const q: unknown = typeof v['query'] === 'string' ? v['query'] : v['query']?.['query']
    if (typeof q === 'string') out.push({ where: `variable ${v['name']}`, expr: q })
  }
  return out
}

/** Every alerting and recording rule of a Prometheus rule file. */
export function ruleList(rules: Json): Json[] {
  return ((rules['groups'] ?? []) as Json[]).flatMap((g) => (g['rules'] ?? []) as Json[])
}

/**
 * Metric names an expression reads: the exchange's (rtb_*) and Node's/the process's
 * (nodejs_*, process_*). Label names and values never start with those prefixes here.
 */
export function metricNamesIn(expr: string): string[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""')
  return [...new Set(withoutStrings.match(/\b(?:rtb|nodejs|process)_[a-zA-Z0-9_]*/g) ?? [])]
}

/** `# TYPE name type` lines of a Prometheus text exposition. */
export function exposedMetricTypes(exposition: string): Map<string, string> {
  const types = new Map<string, string>()
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1]!, m[2]!)
  return types
}

/**
 * Whether `name` is a series the exposition produces: a metric itself, or a histogram's
 * _bucket/_sum/_count, or a summary's _sum/_count.
 */
export function isExposedSeries(name: string, types: ReadonlyMap<string, string>): boolean {
  if (types.has(name)) return true
  const m = /^(.*)_(bucket|sum|count)$/.exec(name)
  if (m === null) return false
  const type = types.get(m[1]!)
  return type === 'histogram' || (type === 'summary' && m[2] !== 'bucket')
}
