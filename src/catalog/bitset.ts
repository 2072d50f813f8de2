/**
 * Bitsets over creative ordinals: one bit per creative in Uint32Array words, bit `ord & 31` of
 * word `ord >>> 5`. Plain functions on typed arrays, so the hot loops stay monomorphic.
 */

export function wordsFor(bitCount: number): number {
  return (bitCount + 31) >>> 5
}

export function setBit(words: Uint32Array, ord: number): void {
  words[ord >>> 5]! |= 1 << (ord & 31)
}

export function hasBit(words: Uint32Array, ord: number): boolean {
  return ((words[ord >>> 5]! >>> (ord & 31)) & 1) === 1
}

/** `into |= from`, word by word. */
export function orInto(into: Uint32Array, from: Uint32Array): void {
  for (let i = 0; i < into.length; i++) into[i]! |= from[i]!
}

/** Set bits of a 32-bit word (SWAR popcount; Math.imul keeps the multiply in int32). */
export function popcount32(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555)
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333)
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24
}

/** Bits of word `w` that fall inside the ordinal range [start, end). */
export function rangeWordMask(w: number, start: number, end: number): number {
  let mask = -1
  const first = w << 5
  if (start > first) mask &= -1 << (start - first)
  const last = first + 32
  if (end < last) mask &= (1 << (end - first)) - 1
  return mask
}

/** Writes the ordinals of the set bits of `word` (word index `w`) into `out` from `n`; returns the new count. */
export function extractBits(word: number, w: number, out: Int32Array, n: number): number {
  const base = w << 5
  let bits = word
  while (bits !== 0) {
    out[n++] = base + 31 - Math.clz32(bits & -bits)
    bits &= bits - 1
  }
  return n
}
