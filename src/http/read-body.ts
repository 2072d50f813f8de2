import { gunzipSync } from 'node:zlib'
import type { HttpResponse } from './uws.js'

export type BodyFailure = 'too_large' | 'bad_encoding' | 'unsupported_encoding'

/**
 * Reads a request body under a size limit. uWS hands out chunks that are only valid during the
 * callback, so each is copied; the common single-chunk body is decoded to a string at once.
 * `onDone` receives the body text, or a failure; it is not called when the client aborted.
 */
export class BodyReader {
  #chunks: Buffer[] | null = null
  #bytes = 0
  #isDone = false

  constructor(
    readonly res: HttpResponse,
    readonly maxBytes: number,
    readonly isGzip: boolean,
    readonly onDone: (reader: BodyReader, body: string | null, failure: BodyFailure | null) => void,
  ) {}

  /** Bound once per request as uWS's onData handler. */
  readonly onData = (chunk: ArrayBuffer, isLast: boolean): void => {
    if (this.#isDone) return
    this.#bytes += chunk.byteLength
    if (this.#bytes > this.maxBytes) return this.#finish(null, 'too_large')
    if (isLast && this.#chunks === null) {
      // Single chunk: decode straight from uWS's buffer, no intermediate copy.
      return this.#complete(Buffer.from(chunk))
    }
    const copy = Buffer.allocUnsafe(chunk.byteLength)
    copy.set(new Uint8Array(chunk))
    if (this.#chunks === null) this.#chunks = [copy]
    else this.#chunks.push(copy)
    if (isLast) this.#complete(Buffer.concat(this.#chunks, this.#bytes))
  }

  #complete(raw: Buffer): void {
    if (!this.isGzip) return this.#finish(raw.toString('utf8'), null)
    try {
      // Bounded inflate: a gzip bomb stops at the body limit instead of filling memory.
      return this.#finish(gunzipSync(raw, { maxOutputLength: this.maxBytes }).toString('utf8'), null)
    } catch (err) {
      return this.#finish(
        null,
        (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' ? 'too_large' : 'bad_encoding',
      )
    }
  }

  #finish(body: string | null, failure: BodyFailure | null): void {
    this.#isDone = true
    this.#chunks = null
    this.onDone(this, body, failure)
  }
}
