import type { DspFailureKind } from '../../../errors.js'

/** `execute`/`finish` results. */
export const PARSE_MORE = 0
export const PARSE_DONE = 1
export const PARSE_ERROR = 2
export type ParseResult = typeof PARSE_MORE | typeof PARSE_DONE | typeof PARSE_ERROR

/** Status line and headers together; undici's default maxHeaderSize. */
export const MAX_HEAD_BYTES = 16 * 1024
/** Chunk extensions are skipped, up to this many bytes per chunk-size line. */
const MAX_CHUNK_EXT_BYTES = 1024

const HEAD = 0
const BODY = 1
const CHUNK_SIZE = 2
const CHUNK_EXT = 3
const CHUNK_SIZE_LF = 4
const CHUNK_DATA = 5
const CHUNK_DATA_CR = 6
const CHUNK_DATA_LF = 7
const TRAILER_START = 8
const TRAILER = 9
const TRAILER_LF = 10
const TRAILER_END_LF = 11
const UNTIL_CLOSE = 12
const DONE = 13

const CR = 13
const LF = 10
const SP = 32
const HT = 9
const COLON = 58
const SEMICOLON = 59
const COMMA = 44

/**
 * An incremental HTTP/1.1 response parser for one connection, reused response after response
 * (`reset`). It reads what the fan-out needs and nothing more: the status, the framing
 * (content-length, chunked, or until the connection closes; none for 1xx, 204 and 304),
 * `content-encoding: gzip`, `connection: close` / HTTP/1.0 keep-alive, and the `keep-alive:
 * timeout=N` hint. Only a 200's body is kept (the only body the bid stage reads); every body
 * counts against `maxBodyBytes`, whatever the status.
 *
 * Strict where a lenient reading could desynchronise a keep-alive connection: lines end in CRLF,
 * no folded headers, no whitespace before a colon, one content-length value, a CRLF after every
 * chunk. Anything else is a `bad_response` (and the connection is closed by its owner).
 *
 * No allocation on the common path: a head that arrives in one read is parsed in place, and a
 * content-length body that arrives in one read is handed over as a view of the input (valid only
 * until the caller returns to the event loop).
 */
export class ResponseParser {
  statusCode = 0
  isGzip = false
  /** The connection may carry another request after this response. */
  isKeepAlive = true
  /** From `keep-alive: timeout=N`, in ms; -1 when absent. */
  keepAliveHintMs = -1
  /** On PARSE_DONE for a 200: its body, or null when empty. Only valid until the next call. */
  body: Buffer | null = null
  /** On PARSE_ERROR: why. */
  error: DspFailureKind = 'bad_response'
  /** On PARSE_DONE: the input offset just past the response. */
  end = 0

  #state = HEAD
  #contentLength = -1
  #hasTransferEncoding = false
  #isChunked = false
  #isCollecting = false
  /** Body bytes still expected: content-length left, or the current chunk's size left. */
  #remaining = 0
  /** Body bytes seen, kept or not. */
  #bodyBytes = 0
  /** A content-length body split over reads, filled in place. */
  #fixedBody: Buffer | null = null
  /** A chunked or close-delimited body, as copies of the input. */
  #chunks: Buffer[] | null = null
  #sizeDigits = 0
  #extBytes = 0
  #trailerBytes = 0
  /** A head split over reads, collected here (allocated on first need). */
  #head: Buffer | null = null
  #headLength = 0
  #isCloseSeen = false

  constructor(
    readonly maxBodyBytes: number,
    readonly maxHeadBytes = MAX_HEAD_BYTES,
  ) {}

  /** Ready for the next response on the connection. */
  reset(): void {
    this.#resetHead()
    this.isKeepAlive = true
    this.keepAliveHintMs = -1
    this.body = null
    this.error = 'bad_response'
    this.end = 0
    this.#state = HEAD
    this.#headLength = 0
  }

  /** Reads `buf[start, end)`; on PARSE_DONE, `this.end` tells where the response ended. */
  execute(buf: Buffer, start: number, end: number): ParseResult {
    let pos = start
    for (;;) {
      switch (this.#state) {
        case HEAD: {
          if (pos >= end) return PARSE_MORE
          pos = this.#readHead(buf, pos, end)
          if (pos === NEED_MORE) return PARSE_MORE
          if (pos === FAILED) return PARSE_ERROR
          break
        }
        case BODY: {
          const available = end - pos
          if (available === 0) return PARSE_MORE
          if (this.#remaining <= available && this.#fixedBody === null) {
            // The whole body is in this read: hand it over without a copy.
            if (this.#isCollecting) this.body = buf.subarray(pos, pos + this.#remaining)
            pos += this.#remaining
            return this.#done(pos)
          }
          const n = Math.min(available, this.#remaining)
          if (this.#isCollecting) {
            if (this.#fixedBody === null) this.#fixedBody = Buffer.allocUnsafe(this.#contentLength)
            buf.copy(this.#fixedBody, this.#contentLength - this.#remaining, pos, pos + n)
          }
          pos += n
          this.#remaining -= n
          if (this.#remaining === 0) {
            this.body = this.#fixedBody
            return this.#done(pos)
          }
          return PARSE_MORE
        }
        case UNTIL_CLOSE: {
          if (pos < end && !this.#take(buf, pos, end)) return PARSE_ERROR
          return PARSE_MORE
        }
        case CHUNK_DATA: {
          if (pos >= end) return PARSE_MORE
          const n = Math.min(end - pos, this.#remaining)
          if (!this.#take(buf, pos, pos + n)) return PARSE_ERROR
          pos += n
          this.#remaining -= n
          if (this.#remaining === 0) this.#state = CHUNK_DATA_CR
          break
        }
        case DONE:
          // Bytes after a complete response: the caller decides (one request at a time, so a protocol error).
          return this.#done(pos)
        default: {
          // Chunk framing and trailers, one byte at a time (a few bytes per chunk).
          if (pos >= end) return PARSE_MORE
          const r = this.#framing(buf[pos]!)
          pos++
          if (r === FAILED) return PARSE_ERROR
          if (r === FINISHED) {
            this.body = this.#joined()
            return this.#done(pos)
          }
        }
      }
    }
  }

  /**
   * The peer closed the connection. PARSE_DONE for a body delimited by the close, PARSE_ERROR with
   * `network` for anything cut short.
   */
  finish(): ParseResult {
    if (this.#state === UNTIL_CLOSE) {
      this.body = this.#joined()
      this.#state = DONE
      return PARSE_DONE
    }
    if (this.#state === DONE) return PARSE_DONE
    return this.#fail('network')
  }

  #done(pos: number): ParseResult {
    this.#state = DONE
    this.end = pos
    return PARSE_DONE
  }

  #fail(kind: DspFailureKind): typeof PARSE_ERROR {
    this.error = kind
    this.isKeepAlive = false
    return PARSE_ERROR
  }

  /** Keeps (or only counts) body bytes `buf[start, end)`; false when past the cap. */
  #take(buf: Buffer, start: number, end: number): boolean {
    const n = end - start
    this.#bodyBytes += n
    if (this.#bodyBytes > this.maxBodyBytes) {
      this.#fail('too_large')
      return false
    }
    if (!this.#isCollecting || n === 0) return true
    // The input is a shared read buffer: copy.
    const copy = Buffer.allocUnsafe(n)
    buf.copy(copy, 0, start, end)
    if (this.#chunks === null) this.#chunks = [copy]
    else this.#chunks.push(copy)
    return true
  }

  #joined(): Buffer | null {
    const chunks = this.#chunks
    if (chunks === null) return null
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.#bodyBytes)
  }

  /** One byte of chunk framing or trailers: CONTINUE, FINISHED or FAILED. */
  #framing(byte: number): number {
    switch (this.#state) {
      case CHUNK_SIZE: {
        const digit = hexValue(byte)
        if (digit >= 0) {
          this.#remaining = this.#remaining * 16 + digit
          this.#sizeDigits++
          // Checked digit by digit, so the size can never grow past a safe integer.
          if (this.#bodyBytes + this.#remaining > this.maxBodyBytes) return this.#failed('too_large')
          return CONTINUE
        }
        if (this.#sizeDigits === 0) return this.#failed('bad_response')
        if (byte === CR) this.#state = CHUNK_SIZE_LF
        else if (byte === SEMICOLON || byte === SP || byte === HT) {
          this.#extBytes = 0
          this.#state = CHUNK_EXT
        } else return this.#failed('bad_response')
        return CONTINUE
      }
      case CHUNK_EXT:
        if (byte === CR) this.#state = CHUNK_SIZE_LF
        else if (byte === LF || ++this.#extBytes > MAX_CHUNK_EXT_BYTES) return this.#failed('bad_response')
        return CONTINUE
      case CHUNK_SIZE_LF:
        if (byte !== LF) return this.#failed('bad_response')
        if (this.#remaining === 0) {
          this.#trailerBytes = 0
          this.#state = TRAILER_START
        } else this.#state = CHUNK_DATA
        return CONTINUE
      case CHUNK_DATA_CR:
        if (byte !== CR) return this.#failed('bad_response')
        this.#state = CHUNK_DATA_LF
        return CONTINUE
      case CHUNK_DATA_LF:
        if (byte !== LF) return this.#failed('bad_response')
        this.#sizeDigits = 0
        this.#state = CHUNK_SIZE
        return CONTINUE
      case TRAILER_START:
        if (byte === CR) this.#state = TRAILER_END_LF
        else if (byte === LF) return this.#failed('bad_response')
        else this.#state = TRAILER
        return this.#countTrailer()
      case TRAILER:
        if (byte === CR) this.#state = TRAILER_LF
        else if (byte === LF) return this.#failed('bad_response')
        return this.#countTrailer()
      case TRAILER_LF:
        if (byte !== LF) return this.#failed('bad_response')
        this.#state = TRAILER_START
        return this.#countTrailer()
      case TRAILER_END_LF:
        if (byte !== LF) return this.#failed('bad_response')
        return FINISHED
      default:
        return this.#failed('bad_response')
    }
  }

  #countTrailer(): number {
    return ++this.#trailerBytes > this.maxHeadBytes ? this.#failed('bad_response') : CONTINUE
  }

  #bad(kind: DspFailureKind): false {
    this.#fail(kind)
    return false
  }

  #failed(kind: DspFailureKind): number {
    this.#fail(kind)
    return FAILED
  }

  /** Returns the offset past the head, NEED_MORE (all input kept) or FAILED. */
  #readHead(buf: Buffer, pos: number, end: number): number {
    if (this.#headLength === 0) {
      const at = headEnd(buf, pos, end)
      if (at >= 0) {
        if (at - pos > this.maxHeadBytes) return this.#failed('bad_response')
        return this.#parseHead(buf, pos, at) ? at + 4 : FAILED
      }
      if (end - pos > this.maxHeadBytes) return this.#failed('bad_response')
      this.#head ??= Buffer.allocUnsafe(this.maxHeadBytes + 4)
      buf.copy(this.#head, 0, pos, end)
      this.#headLength = end - pos
      return NEED_MORE
    }
    // The head started in an earlier read: append, then look for its end across the seam.
    const head = this.#head!
    const before = this.#headLength
    const n = Math.min(end - pos, head.length - before)
    buf.copy(head, before, pos, pos + n)
    this.#headLength = before + n
    const at = headEnd(head, before > 3 ? before - 3 : 0, this.#headLength)
    if (at < 0) {
      if (this.#headLength >= head.length) return this.#failed('bad_response')
      return NEED_MORE
    }
    this.#headLength = 0
    if (at > this.maxHeadBytes) return this.#failed('bad_response')
    return this.#parseHead(head, 0, at) ? pos + (at + 4 - before) : FAILED
  }

  #resetHead(): void {
    this.statusCode = 0
    this.isGzip = false
    this.#contentLength = -1
    this.#hasTransferEncoding = false
    this.#isChunked = false
    this.#isCollecting = false
    this.#remaining = 0
    this.#bodyBytes = 0
    this.#fixedBody = null
    this.#chunks = null
    this.#sizeDigits = 0
    this.#isCloseSeen = false
  }

  /** Status line and headers in `buf[start, end)` (without the final CRLFCRLF); sets the framing. */
  #parseHead(buf: Buffer, start: number, end: number): boolean {
    this.#resetHead()
    const lineEnd = lineEndAt(buf, start, end)
    if (lineEnd < 0 || !this.#statusLine(buf, start, lineEnd)) return this.#bad('bad_response')
    const status = this.statusCode
    for (let p = lineEnd + 2; p < end; ) {
      const e = lineEndAt(buf, p, end)
      if (e < 0 || !this.#header(buf, p, e)) return this.#bad('bad_response')
      p = e + 2
    }
    if (status < 200) {
      // An interim answer (100 Continue, 103 Early Hints): the real one follows. We never ask to upgrade.
      if (status === 101) return this.#bad('bad_response')
      this.#state = HEAD
      return true
    }
    this.#isCollecting = status === 200
    if (status === 204 || status === 304) {
      this.#state = DONE
      return true
    }
    if (this.#hasTransferEncoding) {
      // Transfer-encoding wins over content-length; a message carrying both is suspect: do not reuse.
      if (this.#contentLength >= 0) this.isKeepAlive = false
      if (this.#isChunked) {
        this.#state = CHUNK_SIZE
        return true
      }
      this.isKeepAlive = false
      this.#state = UNTIL_CLOSE
      return true
    }
    if (this.#contentLength >= 0) {
      if (this.#contentLength > this.maxBodyBytes) return this.#bad('too_large')
      this.#remaining = this.#contentLength
      this.#state = this.#contentLength === 0 ? DONE : BODY
      return true
    }
    this.isKeepAlive = false
    this.#state = UNTIL_CLOSE
    return true
  }

  /** `HTTP/1.x NNN[ reason]` */
  #statusLine(buf: Buffer, start: number, end: number): boolean {
    if (end - start < 12) return false
    for (let i = 0; i < 7; i++) if (buf[start + i] !== HTTP_1_[i]) return false
    const minor = buf[start + 7]!
    if ((minor !== 0x30 && minor !== 0x31) || buf[start + 8] !== SP) return false
    const d1 = buf[start + 9]! - 0x30
    const d2 = buf[start + 10]! - 0x30
    const d3 = buf[start + 11]! - 0x30
    if (d1 < 1 || d1 > 5 || d2 < 0 || d2 > 9 || d3 < 0 || d3 > 9) return false
    if (end > start + 12 && buf[start + 12] !== SP) return false
    this.statusCode = d1 * 100 + d2 * 10 + d3
    // HTTP/1.0 closes after each response unless it says keep-alive.
    this.isKeepAlive = minor === 0x31
    return true
  }

  /** One header line `buf[start, end)`; only the few that matter are read. */
  #header(buf: Buffer, start: number, end: number): boolean {
    const first = buf[start]
    if (first === SP || first === HT || first === COLON) return false // folded line, or no name
    let colon = start + 1
    while (colon < end && buf[colon] !== COLON) colon++
    if (colon >= end) return false
    const last = buf[colon - 1]
    if (last === SP || last === HT) return false
    let vs = colon + 1
    while (vs < end && (buf[vs] === SP || buf[vs] === HT)) vs++
    let ve = end
    while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HT)) ve--
    switch (colon - start) {
      case 14:
        if (matches(buf, start, CONTENT_LENGTH)) return this.#contentLengthValue(buf, vs, ve)
        return true
      case 17:
        if (matches(buf, start, TRANSFER_ENCODING)) {
          // Only the last coding says whether the body is chunked.
          let ts = ve
          while (ts > vs && buf[ts - 1] !== COMMA) ts--
          while (ts < ve && (buf[ts] === SP || buf[ts] === HT)) ts++
          this.#hasTransferEncoding = true
          this.#isChunked = ve - ts === CHUNKED.length && matches(buf, ts, CHUNKED)
        }
        return true
      case 16:
        if (matches(buf, start, CONTENT_ENCODING)) {
          this.isGzip =
            (ve - vs === GZIP.length && matches(buf, vs, GZIP)) ||
            (ve - vs === X_GZIP.length && matches(buf, vs, X_GZIP))
        }
        return true
      case 10:
        if (matches(buf, start, CONNECTION)) this.#connectionValue(buf, vs, ve)
        else if (matches(buf, start, KEEP_ALIVE)) this.#keepAliveValue(buf, vs, ve)
        return true
      default:
        return true
    }
  }

  #contentLengthValue(buf: Buffer, start: number, end: number): boolean {
    if (start === end || end - start > 15) {
      // Absent digits are an error; 16+ digits is more than any cap: too large, not malformed.
      if (start === end) return false
      for (let i = start; i < end; i++) if (buf[i]! < 0x30 || buf[i]! > 0x39) return false
      this.#contentLength = Number.MAX_SAFE_INTEGER
      return true
    }
    let value = 0
    for (let i = start; i < end; i++) {
      const d = buf[i]! - 0x30
      if (d < 0 || d > 9) return false
      value = value * 10 + d
    }
    if (this.#contentLength >= 0 && this.#contentLength !== value) return false
    this.#contentLength = value
    return true
  }

  #connectionValue(buf: Buffer, start: number, end: number): void {
    for (let p = start; p < end; ) {
      let e = p
      while (e < end && buf[e] !== COMMA) e++
      let te = e
      while (te > p && (buf[te - 1] === SP || buf[te - 1] === HT)) te--
      if (te - p === CLOSE.length && matches(buf, p, CLOSE)) {
        this.isKeepAlive = false
        this.#isCloseSeen = true
      } else if (te - p === KEEP_ALIVE.length && matches(buf, p, KEEP_ALIVE) && !this.#isCloseSeen) {
        this.isKeepAlive = true
      }
      p = e + 1
      while (p < end && (buf[p] === SP || buf[p] === HT)) p++
    }
  }

  /** `keep-alive: timeout=5, max=100` */
  #keepAliveValue(buf: Buffer, start: number, end: number): void {
    for (let p = start; p + TIMEOUT_EQ.length <= end; p++) {
      if ((p === start || buf[p - 1] === COMMA || buf[p - 1] === SP) && matches(buf, p, TIMEOUT_EQ)) {
        let seconds = 0
        let digits = 0
        for (let i = p + TIMEOUT_EQ.length; i < end && digits < 6; i++, digits++) {
          const d = buf[i]! - 0x30
          if (d < 0 || d > 9) break
          seconds = seconds * 10 + d
        }
        if (digits > 0) this.keepAliveHintMs = seconds * 1000
        return
      }
    }
  }
}

const NEED_MORE = -1
const FAILED = -2
const CONTINUE = 0
const FINISHED = 1

function bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0))
}
const HTTP_1_ = bytes('HTTP/1.')
const CONTENT_LENGTH = bytes('content-length')
const TRANSFER_ENCODING = bytes('transfer-encoding')
const CONTENT_ENCODING = bytes('content-encoding')
const CONNECTION = bytes('connection')
const KEEP_ALIVE = bytes('keep-alive')
const CHUNKED = bytes('chunked')
const GZIP = bytes('gzip')
const X_GZIP = bytes('x-gzip')
const CLOSE = bytes('close')
const TIMEOUT_EQ = bytes('timeout=')

/**
 * Case-insensitive match of `lower` (lowercase letters, digits, '-', '=') at `buf[at]`. `| 0x20`
 * lowercases ASCII letters and leaves '-', '=' and digits alone; no other byte of a header line can
 * map onto them (CR and LF never reach here).
 */
function matches(buf: Buffer, at: number, lower: Uint8Array): boolean {
  for (let i = 0; i < lower.length; i++) if ((buf[at + i]! | 0x20) !== lower[i]) return false
  return true
}

/** Index of the CR of the first CRLFCRLF in `buf[start, end)`, or -1. */
function headEnd(buf: Buffer, start: number, end: number): number {
  for (let i = start; i + 3 < end; i++) {
    if (buf[i] === CR && buf[i + 1] === LF && buf[i + 2] === CR && buf[i + 3] === LF) return i
  }
  return -1
}

/**
 * End of the line starting at `start` within a head ending at `end`: the index of its CR (followed
 * by LF), or `end` for the last line. -1 for a bare CR or LF inside the line.
 */
function lineEndAt(buf: Buffer, start: number, end: number): number {
  for (let i = start; i < end; i++) {
    const c = buf[i]
    if (c === CR) return buf[i + 1] === LF ? i : -1
    if (c === LF || c === 0) return -1
  }
  return end
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  const l = c | 0x20
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10
  return -1
}
