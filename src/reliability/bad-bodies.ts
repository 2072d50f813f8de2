/*
 * Generated malformed auction bodies: each is a deterministic list of labelled bodies, so a failing
 * case can be named and replayed. Raw JSON snippets are spliced in as text, which lets a body carry
 * what JSON.stringify never writes (1e309, -0, 2^53+1 exactly, NaN) and bytes that are not UTF-8.
 */

export interface BadBody {
  readonly label: string
  readonly body: string | Buffer
}

/**
 * A valid request that uses every part of OpenRTB the exchange reads (~2 KB): every media type,
 * a deal, site, device with geo, user with eids and consent, regs, source with schain, ext.
 */
export const RICH_REQUEST: Readonly<Record<string, unknown>> = Object.freeze({
  id: 'rel-1',
  at: 2,
  tmax: 100,
  cur: ['USD'],
  bcat: ['IAB25'],
  badv: ['blocked.example'],
  wseat: [],
  allimps: 0,
  test: 0,
  imp: [
    {
      id: '1',
      tagid: 'top',
      bidfloor: 0.5,
      bidfloorcur: 'USD',
      secure: 1,
      instl: 0,
      banner: {
        w: 300,
        h: 250,
        format: [
          { w: 300, h: 250 },
          { w: 728, h: 90 },
        ],
        battr: [1, 2],
        pos: 1,
      },
      pmp: {
        private_auction: 0,
        deals: [
          {
            id: 'deal-1',
            bidfloor: 1,
            bidfloorcur: 'USD',
            at: 1,
            wseat: ['seat-1'],
            wadomain: ['a.example'],
          },
        ],
      },
      ext: { prebid: { bidder: { x: {} } } },
    },
    {
      id: '2',
      video: { mimes: ['video/mp4'], w: 640, h: 480, minduration: 5, maxduration: 30, protocols: [2, 3] },
    },
    {
      id: '3',
      native: {
        ver: '1.2',
        request: JSON.stringify({
          ver: '1.2',
          context: 1,
          plcmttype: 1,
          assets: [
            { id: 1, required: 1, title: { len: 90 } },
            { id: 2, img: { type: 3, w: 300, h: 250 } },
            { id: 3, data: { type: 2, len: 140 } },
          ],
          eventtrackers: [{ event: 1, methods: [1] }],
        }),
      },
    },
    { id: '4', audio: { mimes: ['audio/mp4'], minduration: 5, maxduration: 30 } },
  ],
  site: {
    id: 's1',
    domain: 'news.example',
    page: 'https://news.example/a',
    cat: ['IAB12'],
    pagecat: ['IAB12-3'],
    sectioncat: [],
    publisher: { id: 'pub-1', domain: 'news.example' },
    content: { language: 'en' },
  },
  device: {
    ua: 'Mozilla/5.0',
    ip: '203.0.113.9',
    devicetype: 2,
    os: 'iOS',
    w: 375,
    h: 812,
    ppi: 326,
    geo: { country: 'USA', region: 'CA', lat: 37.7, lon: -122.4, type: 2, accuracy: 10 },
  },
  user: {
    id: 'u1',
    yob: 1980,
    consent: 'CO',
    data: [{ id: 'd', segment: [{ id: 's' }] }],
    eids: [{ source: 'x.example', uids: [{ id: 'u' }] }],
    ext: { consent: 'CO' },
  },
  regs: { coppa: 0, gdpr: 1, us_privacy: '1---', ext: { gdpr: 1 } },
  source: {
    fd: 1,
    tid: 't1',
    schain: { complete: 1, ver: '1.0', nodes: [{ asi: 'x.example', sid: '1', hp: 1 }] },
  },
  ext: { prebid: { debug: true } },
})

/**
 * Values put in place of every field, as JSON text: each type the field is not, the number edges
 * JSON allows but a double does not hold, and two that are not JSON at all (NaN, a bare word).
 */
export const WRONG_VALUES: readonly string[] = [
  'null',
  'true',
  '-1',
  '0',
  '1.5',
  '"x"',
  '""',
  '[]',
  '{}',
  '[null]',
  `"${'h'.repeat(100_000)}"`,
  '9007199254740993',
  '-0',
  '1e309',
  '-1e309',
  '1e-400',
  '123456789012345678901234567890',
  'NaN',
]

/** Every path in a JSON value (objects and arrays, depth first), the root excluded. */
export function jsonPaths(value: unknown, prefix: readonly (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = []
  if (typeof value !== 'object' || value === null) return out
  const entries: [string | number, unknown][] = Array.isArray(value)
    ? value.map((v, i) => [i, v])
    : Object.entries(value)
  for (const [key, child] of entries) {
    const path = [...prefix, key]
    out.push(path, ...jsonPaths(child, path))
  }
  return out
}

const MARKER = '@@reliability-marker@@'

/** `value` as JSON text with the field at `path` replaced by the raw JSON text `raw` (or removed). */
export function replaceAt(value: unknown, path: readonly (string | number)[], raw: string | null): string {
  const copy = structuredClone(value) as Record<string | number, unknown>
  let parent = copy
  for (let i = 0; i < path.length - 1; i++) parent = parent[path[i]!] as Record<string | number, unknown>
  const last = path[path.length - 1]!
  if (raw !== null) {
    parent[last] = MARKER
    // A function, so that `$&` and friends in `raw` are not read as replacement patterns.
    return JSON.stringify(copy).replace(`"${MARKER}"`, () => raw)
  }
  if (Array.isArray(parent)) parent.splice(Number(last), 1)
  else delete parent[last]
  return JSON.stringify(copy)
}

/** Every field of `value` replaced by each of `wrongs`, and every field removed. */
export function wrongTypes(value: unknown, wrongs: readonly string[] = WRONG_VALUES): BadBody[] {
  const out: BadBody[] = []
  for (const path of jsonPaths(value)) {
    const where = path.join('.')
    for (const raw of wrongs)
      out.push({ label: `${where} = ${raw.slice(0, 24)}`, body: replaceAt(value, path, raw) })
    out.push({ label: `${where} removed`, body: replaceAt(value, path, null) })
  }
  return out
}

/** `text` cut at every byte offset (UTF-8), or at `maxCount` evenly spaced ones when it is longer. */
export function truncations(text: string, maxCount = Number.POSITIVE_INFINITY): BadBody[] {
  const bytes = Buffer.from(text)
  const step = Math.max(1, Math.ceil(bytes.length / maxCount))
  const out: BadBody[] = []
  for (let end = 0; end < bytes.length; end += step) {
    out.push({ label: `truncated at byte ${end}`, body: bytes.subarray(0, end) })
  }
  return out
}

/** Depths of nesting, each a body of its own: at the top, inside ext, and never closed. */
export function deepNesting(base: Readonly<Record<string, unknown>>): BadBody[] {
  const open = JSON.stringify(base).slice(0, -1)
  const out: BadBody[] = []
  for (const depth of [1_000, 10_000, 100_000]) {
    out.push(
      { label: `${depth} [ at the top`, body: `${'['.repeat(depth)}${']'.repeat(depth)}` },
      { label: `${depth} { at the top`, body: `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}` },
      { label: `${depth} [ never closed`, body: '['.repeat(depth) },
      { label: `${depth} {[ alternating`, body: `${'{"a":['.repeat(depth)}${']}'.repeat(depth)}` },
    )
  }
  for (const depth of [100, 1_000, 10_000]) {
    out.push(
      { label: `${depth} { in ext`, body: `${open},"ext":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}` },
      { label: `${depth} [ in imp.ext`, body: nestedImpExt(base, depth) },
    )
  }
  return out
}

function nestedImpExt(base: Readonly<Record<string, unknown>>, depth: number): string {
  return replaceAt(base, ['imp', 0, 'ext'], `{"x":${'['.repeat(depth)}${']'.repeat(depth)}}`)
}

/**
 * Arrays far longer than any real request: `maxBodyBytes` decides which are refused at the door
 * (413) and which reach the validator (the caller picks the limit; see bad-input.test.ts).
 */
export function hugeArrays(base: Readonly<Record<string, unknown>>): BadBody[] {
  const imps = (n: number, same = false) =>
    Array.from({ length: n }, (_, i) => ({ id: same ? '1' : String(i), banner: { w: 300, h: 250 } }))
  const withImps = (n: number, same = false) => JSON.stringify({ ...base, imp: imps(n, same) })
  const strings = (n: number) => Array.from({ length: n }, (_, i) => `IAB${i}`)
  const formats = Array.from({ length: 10_000 }, () => ({ w: 300, h: 250 }))
  return [
    { label: '10k imps', body: withImps(10_000) },
    { label: '10k imps with one id', body: withImps(10_000, true) },
    { label: '100k imps', body: withImps(100_000) },
    { label: '20k bcat strings', body: JSON.stringify({ ...base, bcat: strings(20_000) }) },
    { label: '10k formats', body: replaceAt(base, ['imp', 0, 'banner', 'format'], JSON.stringify(formats)) },
    { label: '100k nulls as imp', body: JSON.stringify({ ...base, imp: new Array(100_000).fill(null) }) },
    { label: '1M-element array body', body: `[${'0,'.repeat(999_999)}0]` },
  ]
}

/** Bytes that are not what JSON in UTF-8 should be: broken sequences, BOMs, other encodings, NULs. */
export function encodingOddities(base: Readonly<Record<string, unknown>>): BadBody[] {
  const text = JSON.stringify(base)
  const inId = (bytes: readonly number[]) => splice(text, '"id":"rel-1"', `"id":"rel-1`, bytes, '"')
  const out: BadBody[] = [
    { label: 'UTF-8 BOM', body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]) },
    {
      label: 'UTF-16LE with BOM',
      body: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]),
    },
    { label: 'UTF-16BE', body: Buffer.from(text, 'utf16le').swap16() },
    { label: 'lone continuation byte in id', body: inId([0x80]) },
    { label: 'truncated 3-byte sequence in id', body: inId([0xe2, 0x82]) },
    { label: 'overlong "/" in id', body: inId([0xc0, 0xaf]) },
    { label: 'UTF-16 surrogate as UTF-8 in id', body: inId([0xed, 0xa0, 0x80]) },
    { label: '0xff 0xfe in id', body: inId([0xff, 0xfe]) },
    { label: 'code point above U+10FFFF in id', body: inId([0xf4, 0x90, 0x80, 0x80]) },
    { label: 'raw NUL in id', body: inId([0x00]) },
    { label: 'raw newline in id', body: inId([0x0a]) },
    { label: 'escaped lone surrogate in id', body: text.replace('"rel-1"', '"rel-1\\ud800"') },
    { label: 'escaped NUL in id', body: text.replace('"rel-1"', '"rel-1\\u0000"') },
    { label: 'bad escape in id', body: text.replace('"rel-1"', '"rel-1\\x41"') },
    { label: 'NUL byte before the body', body: Buffer.concat([Buffer.from([0]), Buffer.from(text)]) },
    { label: 'NUL byte after the body', body: Buffer.concat([Buffer.from(text), Buffer.from([0])]) },
    { label: 'invalid UTF-8 between tokens', body: splice(text, '{', '{', [0xff], '') },
    { label: 'invalid UTF-8 in a key', body: splice(text, '"tmax"', '"tm', [0xc3], 'ax"') },
    {
      label: 'latin1 é in site.page',
      body: splice(text, '"https://news.example/a"', '"https://news.example/', [0xe9], '"'),
    },
    { label: 'two bodies back to back', body: text + text },
    { label: 'trailing garbage', body: `${text}}}` },
    { label: 'only whitespace', body: ' \t\r\n ' },
    { label: 'empty body', body: '' },
  ]
  return out
}

/** `text` with its first `find` replaced by `before` + raw `bytes` + `after`. */
function splice(text: string, find: string, before: string, bytes: readonly number[], after: string): Buffer {
  const at = text.indexOf(find)
  return Buffer.concat([
    Buffer.from(text.slice(0, at) + before),
    Buffer.from(bytes),
    Buffer.from(after + text.slice(at + find.length)),
  ])
}

/** Numbers a double cannot hold, or that mean nothing where they are put. */
export function numberEdges(base: Readonly<Record<string, unknown>>): BadBody[] {
  const cases: [readonly (string | number)[], string][] = [
    [['tmax'], '1e308'],
    [['tmax'], '4294967296'],
    [['tmax'], '1e-7'],
    [['tmax'], '-0.0'],
    [['tmax'], '100.0000000000000001'],
    [['at'], '2.0'],
    [['at'], '1e3'],
    [['imp', 0, 'bidfloor'], '1e308'],
    [['imp', 0, 'bidfloor'], '1e309'],
    [['imp', 0, 'bidfloor'], '5e-324'],
    [['imp', 0, 'bidfloor'], '-1e-400'],
    [['imp', 0, 'banner', 'w'], '1e21'],
    [['imp', 0, 'banner', 'w'], '9007199254740993'],
    [['imp', 0, 'banner', 'format', 0, 'w'], '1.0000000000000002'],
    [['imp', 0, 'pmp', 'deals', 0, 'bidfloor'], '1e309'],
    [['device', 'geo', 'lat'], '1e309'],
    [['device', 'geo', 'accuracy'], '18446744073709551616'],
    [['user', 'yob'], '-9007199254740993'],
    [['regs', 'coppa'], '1.0'],
    [['imp', 0, 'secure'], '1e0'],
  ]
  return cases.map(([path, raw]) => ({
    label: `${path.join('.')} = ${raw}`,
    body: replaceAt(base, path, raw),
  }))
}
