import type { RequestProblem } from './validate-request.js'

/**
 * Primitive checks on parsed JSON, shared by the request validators. They return booleans or the
 * name of the offending key, so the success path builds no strings and allocates nothing.
 */
export type JsonObject = Record<string, unknown>

export const MUST_BE_OBJECT = 'must be an object'
export const MUST_BE_COUNT = 'must be a non-negative integer'
export const MUST_BE_FLAG = 'must be 0 or 1'
export const MUST_BE_STRINGS = 'must be an array of strings'
export const MUST_BE_INTS = 'must be an array of integers'
export const MUST_BE_MIMES = 'must be a non-empty array of MIME type strings'
export const MUST_BE_CURRENCY = 'must be a known ISO-4217 currency code'
export const MUST_BE_FLOOR = 'must be a non-negative number (CPM)'
export const REQUIRED_ID = 'is required and must be a non-empty string'

export function fail(field: string, message: string): RequestProblem {
  return { field, message }
}

/** Prefixes a problem found inside a nested object; its field is '' (the object itself) or starts with '.' or '['. */
export function under(prefix: string, problem: RequestProblem): RequestProblem {
  return { field: prefix + problem.field, message: problem.message }
}

/** A JSON object: not null, not an array. `null` is never "absent": later stages rely on the declared types. */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0
}

export function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0
}

export function isFlag(value: unknown): value is 0 | 1 {
  return value === 0 || value === 1
}

/** A price or floor: finite (JSON has no Infinity, but an object handed to us might) and not negative. */
export function isNonNegativeNumber(value: unknown): value is number {
  return typeof value === 'number' && value >= 0 && value !== Number.POSITIVE_INFINITY
}

export function isStringArray(value: unknown): value is string[] {
  if (!Array.isArray(value)) return false
  for (let i = 0; i < value.length; i++) if (typeof value[i] !== 'string') return false
  return true
}

export function isIntArray(value: unknown): value is number[] {
  if (!Array.isArray(value)) return false
  for (let i = 0; i < value.length; i++) if (!Number.isInteger(value[i])) return false
  return true
}

export function isMimeList(value: unknown): value is string[] {
  return Array.isArray(value) && value.length > 0 && isStringArray(value)
}

/** The first of `keys` that `obj` has and that is not a non-negative integer. */
export function firstNotCount(obj: JsonObject, keys: readonly string[]): string | undefined {
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    const value = obj[key]
    if (value !== undefined && !isCount(value)) return key
  }
  return undefined
}

/** The first of `keys` that `obj` has and that is not 0 or 1. */
export function firstNotFlag(obj: JsonObject, keys: readonly string[]): string | undefined {
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    const value = obj[key]
    if (value !== undefined && !isFlag(value)) return key
  }
  return undefined
}

/** The first of `keys` that `obj` has and that is not an array of strings. */
export function firstNotStrings(obj: JsonObject, keys: readonly string[]): string | undefined {
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    const value = obj[key]
    if (value !== undefined && !isStringArray(value)) return key
  }
  return undefined
}

/** The first of `keys` that `obj` has and that is not an object. */
export function firstNotObject(obj: JsonObject, keys: readonly string[]): string | undefined {
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    const value = obj[key]
    if (value !== undefined && !isObject(value)) return key
  }
  return undefined
}

const SMALL_LIST = 32

/**
 * Index of the first item whose `key` repeats an earlier item's (a missing key counts as 0, the
 * Native rule for asset ids), or -1. Pairwise for the usual handful of items, so no Set is
 * allocated per request; a Set above that, so a hostile list of thousands stays linear.
 */
export function firstDuplicateIndex(items: readonly unknown[], key: string): number {
  if (items.length > SMALL_LIST) return firstDuplicateBySet(items, key)
  for (let i = 1; i < items.length; i++) {
    const id = keyOf(items[i], key)
    for (let j = 0; j < i; j++) if (keyOf(items[j], key) === id) return i
  }
  return -1
}

function firstDuplicateBySet(items: readonly unknown[], key: string): number {
  const seen = new Set<unknown>()
  for (let i = 0; i < items.length; i++) {
    const id = keyOf(items[i], key)
    if (seen.has(id)) return i
    seen.add(id)
  }
  return -1
}

function keyOf(item: unknown, key: string): unknown {
  return (item as JsonObject)[key] ?? 0
}

/** Fields every media object shares: blocked creative attributes and the extension object. */
export function checkCommonMedia(media: JsonObject): RequestProblem | undefined {
  const battr = media['battr']
  if (battr !== undefined && !isIntArray(battr)) return fail('.battr', MUST_BE_INTS)
  const ext = media['ext']
  if (ext !== undefined && !isObject(ext)) return fail('.ext', MUST_BE_OBJECT)
  return undefined
}
