import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import {
  MAX_HEAD_BYTES,
  PARSE_DONE,
  PARSE_ERROR,
  PARSE_MORE,
  type ParseResult,
  ResponseParser,
} from './response-parser.js'

const CAP = 4096

interface Parsed {
  readonly result: ParseResult
  readonly status: number
  readonly body: string | null
  readonly isGzip: boolean
  readonly isKeepAlive: boolean
  readonly keepAliveHintMs: number
  readonly error: string | null
  /** Bytes of the input after the response (only when done). */
  readonly rest: number
}

/** Feeds `input` in pieces cut at `cuts` (offsets), as successive reads into one reused buffer. */
function parse(
  input: string | Buffer,
  cuts: readonly number[] = [],
  options: { eof?: boolean } = {},
): Parsed {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input
  const parser = new ResponseParser(CAP)
  parser.reset()
  // Every read lands in the same buffer, as with the transport's shared read buffer: the parser
  // must not keep views of it across reads.
  const readBuffer = Buffer.alloc(bytes.length + 16)
  const points = [...new Set([0, ...cuts.filter((c) => c > 0 && c < bytes.length), bytes.length])].sort(
    (a, b) => a - b,
  )
  let result: ParseResult = PARSE_MORE
  let body: string | null = null
  let rest = 0
  for (let i = 0; i + 1 < points.length; i++) {
    const from = points[i]!
    const to = points[i + 1]!
    readBuffer.fill(0x7e)
    bytes.copy(readBuffer, 0, from, to)
    result = parser.execute(readBuffer, 0, to - from)
    if (result !== PARSE_MORE) {
      if (result === PARSE_DONE) {
        body = parser.body === null ? null : parser.body.toString('latin1')
        rest = to - from - parser.end + (bytes.length - to)
      }
      break
    }
  }
  if (result === PARSE_MORE && options.eof === true) {
    result = parser.finish()
    if (result === PARSE_DONE) body = parser.body === null ? null : parser.body.toString('latin1')
  }
  return {
    result,
    status: parser.statusCode,
    body,
    isGzip: parser.isGzip,
    isKeepAlive: parser.isKeepAlive,
    keepAliveHintMs: parser.keepAliveHintMs,
    error: result === PARSE_ERROR ? parser.error : null,
    rest,
  }
}

/** Every way of cutting `input` in two and in three, plus one byte per read. */
function everySplit(input: string): number[][] {
  const cuts: number[][] = [[]]
  for (let i = 1; i < input.length; i++) cuts.push([i])
  for (let i = 1; i < input.length; i += 3) for (let j = i + 1; j < input.length; j += 5) cuts.push([i, j])
  cuts.push(Array.from({ length: input.length }, (_, i) => i))
  return cuts
}

const OK_CL = 'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"id":"r1"}'
const OK_CHUNKED =
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
  '4\r\n{"id\r\nA;name="ext"\r\n":"r1","x"\r\n2 \r\n:1\r\n1\r\n}\r\n0\r\nx-trailer: yes\r\n\r\n'
const CHUNKED_BODY = '{"id":"r1","x":1}'

describe('ResponseParser', () => {
  it('a content-length response in one read: status, body, keep-alive, nothing left over', () => {
    const p = parse(OK_CL)
    assert.equal(p.result, PARSE_DONE)
    assert.deepEqual(
      [p.status, p.body, p.isKeepAlive, p.isGzip, p.rest],
      [200, '{"id":"r1"}', true, false, 0],
    )
  })

  it('the same response at every byte boundary (two and three reads, and one byte per read)', () => {
    for (const cuts of everySplit(OK_CL)) {
      const p = parse(OK_CL, cuts)
      assert.deepEqual(
        [p.result, p.status, p.body, p.rest],
        [PARSE_DONE, 200, '{"id":"r1"}', 0],
        `cuts ${cuts}`,
      )
    }
  })

  it('chunked, with extensions, whitespace before an extension, trailers, split at every byte boundary', () => {
    for (const cuts of everySplit(OK_CHUNKED)) {
      const p = parse(OK_CHUNKED, cuts)
      assert.deepEqual([p.result, p.body, p.isKeepAlive], [PARSE_DONE, CHUNKED_BODY, true], `cuts ${cuts}`)
    }
  })

  it('interim 1xx answers are skipped: the real status follows, at every byte boundary', () => {
    const input = `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n${OK_CL}`
    for (const cuts of everySplit(input)) {
      const p = parse(input, cuts)
      assert.deepEqual([p.result, p.status, p.body], [PARSE_DONE, 200, '{"id":"r1"}'], `cuts ${cuts}`)
    }
  })

  it('204 and 304 have no body whatever their headers say; the connection stays usable', () => {
    for (const status of ['204 No Content', '304 Not Modified']) {
      const p = parse(`HTTP/1.1 ${status}\r\ncontent-length: 5\r\n\r\n`)
      assert.deepEqual([p.result, p.body, p.isKeepAlive, p.rest], [PARSE_DONE, null, true, 0])
    }
  })

  it('a non-200 body is read (the connection stays in step) but not kept', () => {
    const p = parse('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 8\r\n\r\nbusy now')
    assert.deepEqual([p.result, p.status, p.body, p.rest], [PARSE_DONE, 503, null, 0])
    const chunked = parse('HTTP/1.1 500 Oops\r\ntransfer-encoding: chunked\r\n\r\n3\r\nbad\r\n0\r\n\r\n')
    assert.deepEqual([chunked.result, chunked.status, chunked.body], [PARSE_DONE, 500, null])
  })

  it('200 with content-length 0 is done with no body', () => {
    const p = parse('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n')
    assert.deepEqual([p.result, p.body, p.rest], [PARSE_DONE, null, 0])
  })

  it('gzip is noticed in any case, x-gzip too; identity and unknown codings are not gzip', () => {
    for (const value of ['gzip', 'GZip', ' gzip ', 'x-gzip']) {
      assert.equal(
        parse(`HTTP/1.1 200 OK\r\nContent-Encoding:${value}\r\ncontent-length: 0\r\n\r\n`).isGzip,
        true,
      )
    }
    for (const value of ['identity', 'br', 'gzip, br']) {
      assert.equal(
        parse(`HTTP/1.1 200 OK\r\ncontent-encoding: ${value}\r\ncontent-length: 0\r\n\r\n`).isGzip,
        false,
      )
    }
  })

  it('connection semantics: HTTP/1.0 closes unless keep-alive; close wins; a keep-alive hint is read', () => {
    assert.equal(parse('HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n').isKeepAlive, false)
    assert.equal(
      parse('HTTP/1.0 200 OK\r\nconnection: Keep-Alive\r\ncontent-length: 0\r\n\r\n').isKeepAlive,
      true,
    )
    assert.equal(
      parse('HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 0\r\n\r\n').isKeepAlive,
      false,
    )
    assert.equal(
      parse('HTTP/1.1 200 OK\r\nconnection: upgrade, close\r\ncontent-length: 0\r\n\r\n').isKeepAlive,
      false,
    )
    const hinted = parse('HTTP/1.1 200 OK\r\nKeep-Alive: max=100, timeout=5\r\ncontent-length: 0\r\n\r\n')
    assert.deepEqual([hinted.isKeepAlive, hinted.keepAliveHintMs], [true, 5000])
    assert.equal(
      parse('HTTP/1.1 200 OK\r\nkeep-alive: timeout=0\r\ncontent-length: 0\r\n\r\n').keepAliveHintMs,
      0,
    )
    assert.equal(parse(OK_CL).keepAliveHintMs, -1, 'no hint')
  })

  it('transfer-encoding wins over content-length, and such a connection is not reused', () => {
    const p = parse(
      'HTTP/1.1 200 OK\r\ncontent-length: 100\r\ntransfer-encoding: gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
    )
    assert.deepEqual([p.result, p.body, p.isKeepAlive], [PARSE_DONE, '{}', false])
  })

  it('no length and not chunked: the body runs to the close (and the connection is not reused)', () => {
    const input = 'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{"id":"r1"}'
    for (const cuts of everySplit(input)) {
      const p = parse(input, cuts, { eof: true })
      assert.deepEqual([p.result, p.body, p.isKeepAlive], [PARSE_DONE, '{"id":"r1"}', false], `cuts ${cuts}`)
    }
    const other = parse('HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\nabc', [], { eof: true })
    assert.deepEqual([other.result, other.body, other.isKeepAlive], [PARSE_DONE, 'abc', false])
  })

  it('a close before the response is complete is a network failure', () => {
    for (const cut of [5, 30, OK_CL.length - 1]) {
      const p = parse(OK_CL.slice(0, cut), [], { eof: true })
      assert.deepEqual([p.result, p.error], [PARSE_ERROR, 'network'], `at ${cut}`)
    }
    const midChunk = parse(OK_CHUNKED.slice(0, 60), [], { eof: true })
    assert.deepEqual([midChunk.result, midChunk.error], [PARSE_ERROR, 'network'])
  })

  it('bad status lines are bad_response', () => {
    const lines = [
      'HTTP/2 200 OK',
      'HTTP/1.1 20 OK',
      'HTTP/1.1 2000 OK',
      'HTTP/1.1 200OK',
      'HTTP/1.1  200 OK',
      'HTTP/1.2 200 OK',
      'HTTP/1.1 600 Nope',
      'HTTP/1.1 099 Nope',
      'ICY 200 OK',
      'http/1.1 200 OK',
      '<html><body>hello</body></html>',
      'HTTP/1.1 101 Switching Protocols',
    ]
    for (const line of lines) {
      const p = parse(`${line}\r\ncontent-length: 0\r\n\r\n`)
      assert.deepEqual([p.result, p.error], [PARSE_ERROR, 'bad_response'], line)
    }
  })

  it('bad header lines are bad_response (no desync on a keep-alive connection)', () => {
    const heads = [
      'HTTP/1.1 200 OK\r\nno colon here\r\ncontent-length: 0',
      'HTTP/1.1 200 OK\r\ncontent-length : 0',
      'HTTP/1.1 200 OK\r\nx-a: 1\r\n folded: value\r\ncontent-length: 0',
      'HTTP/1.1 200 OK\r\n: no name\r\ncontent-length: 0',
      'HTTP/1.1 200 OK\r\nx-a: 1\nx-b: 2\r\ncontent-length: 0',
      'HTTP/1.1 200 OK\r\nx-a: 1\rx-b: 2\r\ncontent-length: 0',
      'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3',
      'HTTP/1.1 200 OK\r\ncontent-length: 1e3',
      'HTTP/1.1 200 OK\r\ncontent-length: -1',
      'HTTP/1.1 200 OK\r\ncontent-length:',
    ]
    for (const head of heads) {
      const p = parse(`${head}\r\n\r\n`)
      assert.deepEqual([p.result, p.error], [PARSE_ERROR, 'bad_response'], JSON.stringify(head))
    }
    // The same content-length twice is fine.
    assert.equal(parse('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nContent-Length: 2\r\n\r\n{}').body, '{}')
  })

  it('bad chunk framing is bad_response', () => {
    const bodies = [
      'x\r\n{}\r\n0\r\n\r\n',
      '\r\n',
      '2\r\n{}XX0\r\n\r\n',
      '2\n{}\r\n0\r\n\r\n',
      '2\r\n{}\r\n0\r\n\n',
    ]
    for (const body of bodies) {
      const p = parse(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${body}`)
      assert.deepEqual([p.result, p.error], [PARSE_ERROR, 'bad_response'], JSON.stringify(body))
    }
  })

  it(`a head over ${MAX_HEAD_BYTES} bytes is bad_response, in one read or many`, () => {
    const big = `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(MAX_HEAD_BYTES)}\r\ncontent-length: 0\r\n\r\n`
    assert.deepEqual(parse(big).error, 'bad_response')
    assert.deepEqual(parse(big, [10, 100, 9000]).error, 'bad_response')
    const endless = `HTTP/1.1 200 OK\r\n${'x-filler: 0123456789\r\n'.repeat(1000)}`
    const p = parse(endless, [50, 8000, 16000])
    assert.deepEqual([p.result, p.error], [PARSE_ERROR, 'bad_response'])
    // Just under the limit is fine.
    const fits = `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(MAX_HEAD_BYTES - 60)}\r\ncontent-length: 0\r\n\r\n`
    assert.equal(parse(fits, [7, 9000]).result, PARSE_DONE)
  })

  it('bodies over the cap are too_large: by content-length at once, chunked and close-delimited as they grow', () => {
    const declared = parse(`HTTP/1.1 200 OK\r\ncontent-length: ${CAP + 1}\r\n\r\n`)
    assert.deepEqual([declared.result, declared.error], [PARSE_ERROR, 'too_large'])
    const hugeLength = parse('HTTP/1.1 200 OK\r\ncontent-length: 99999999999999999999999\r\n\r\n')
    assert.equal(hugeLength.error, 'too_large')
    const chunk = 'x'.repeat(1000)
    const chunked = parse(
      `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${`3e8\r\n${chunk}\r\n`.repeat(5)}0\r\n\r\n`,
    )
    assert.deepEqual([chunked.result, chunked.error], [PARSE_ERROR, 'too_large'])
    const hugeChunk = parse('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nffffffffffffffffffff\r\n')
    assert.equal(hugeChunk.error, 'too_large')
    const untilClose = parse(`HTTP/1.1 200 OK\r\n\r\n${'x'.repeat(CAP + 1)}`, [100, 2000])
    assert.deepEqual([untilClose.result, untilClose.error], [PARSE_ERROR, 'too_large'])
    // Exactly the cap is fine.
    assert.equal(
      parse(`HTTP/1.1 200 OK\r\ncontent-length: ${CAP}\r\n\r\n${'y'.repeat(CAP)}`, [50]).body?.length,
      CAP,
    )
  })

  it('bytes after a complete response are left over (the caller closes the connection)', () => {
    const p = parse(`${OK_CL}HTTP/1.1 200 OK\r\n`)
    assert.deepEqual([p.result, p.body, p.rest], [PARSE_DONE, '{"id":"r1"}', 17])
  })

  it('a parser is reused across responses on one connection after reset()', () => {
    const parser = new ResponseParser(CAP)
    const inputs = [OK_CL, OK_CHUNKED, 'HTTP/1.1 204 No Content\r\n\r\n', OK_CL]
    const seen: unknown[] = []
    for (const input of inputs) {
      parser.reset()
      const bytes = Buffer.from(input, 'latin1')
      // Split the head so the reused head buffer is exercised too.
      assert.equal(parser.execute(bytes, 0, 10), PARSE_MORE)
      assert.equal(parser.execute(bytes, 10, bytes.length), PARSE_DONE)
      seen.push([parser.statusCode, parser.body?.toString('latin1') ?? null])
    }
    assert.deepEqual(seen, [
      [200, '{"id":"r1"}'],
      [200, CHUNKED_BODY],
      [204, null],
      [200, '{"id":"r1"}'],
    ])
  })

  it('property: any valid response, cut anywhere, reads the same as in one piece', () => {
    const response = fc
      .record({
        body: fc.string({ maxLength: 300 }),
        chunked: fc.boolean(),
        chunkSizes: fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }),
        headerCase: fc.boolean(),
        extraHeaders: fc.array(
          fc.tuple(fc.stringMatching(/^[a-z][a-z-]{0,15}$/), fc.stringMatching(/^[ -~]{0,40}$/)),
          {
            maxLength: 5,
          },
        ),
      })
      .map(({ body, chunked, chunkSizes, headerCase, extraHeaders }) => {
        const bytes = Buffer.from(body, 'utf8').toString('latin1')
        let head = 'HTTP/1.1 200 OK\r\n'
        for (const [name, value] of extraHeaders) {
          if (['content-length', 'transfer-encoding', 'connection', 'keep-alive'].includes(name)) continue
          head += `${name}: ${value.trim()}\r\n`
        }
        let framed: string
        if (chunked) {
          head += headerCase ? 'Transfer-Encoding: Chunked\r\n' : 'transfer-encoding: chunked\r\n'
          framed = ''
          let at = 0
          for (let i = 0; at < bytes.length; i++) {
            const size = Math.min(chunkSizes[i % chunkSizes.length]!, bytes.length - at)
            framed += `${size.toString(16)}\r\n${bytes.slice(at, at + size)}\r\n`
            at += size
          }
          framed += '0\r\n\r\n'
        } else {
          head += `${headerCase ? 'Content-Length' : 'content-length'}: ${bytes.length}\r\n`
          framed = bytes
        }
        return { input: `${head}\r\n${framed}`, body: bytes }
      })
    fc.assert(
      fc.property(response, fc.array(fc.nat(), { maxLength: 6 }), ({ input, body }, rawCuts) => {
        const cuts = rawCuts.map((c) => c % Math.max(1, input.length))
        const p = parse(input, cuts)
        assert.equal(p.result, PARSE_DONE)
        assert.equal(p.body ?? '', body)
        assert.equal(p.rest, 0)
      }),
      { numRuns: 300 },
    )
  })
})
