import type { HttpResponse } from 'uWebSockets.js'
import uWS from 'uWebSockets.js'
import { parseArgs } from 'node:util'

/**
 * The reference servers the exchange is measured against, one per process:
 *  - `canned`: reads the body and answers a fixed ~600 B BidResponse: the ceiling of uWS on this machine.
 *  - `json`: JSON.parse of the request, a response built from its id and imps, JSON.stringify:
 *    the floor cost of any OpenRTB server (performance-baseline.md "B").
 * Usage: node dist/bench/bare-uws-server.js --port N [--mode canned|json] [--host 127.0.0.1]
 */

const CANNED_BID = {
  id: 'bench-request',
  bidid: 'bench-bid-response',
  cur: 'USD',
  seatbid: [
    {
      seat: 'bench-seat',
      bid: [
        {
          id: 'bench-bid-1',
          impid: '1',
          price: 1.2345,
          adid: 'ad-1',
          crid: 'creative-1',
          cid: 'campaign-1',
          adomain: ['shoes.example'],
          cat: ['IAB22'],
          w: 300,
          h: 250,
          mtype: 1,
          adm: '<a href="https://shoes.example/click"><img src="https://cdn.shoes.example/c-1-300x250.png" width="300" height="250"></a><img src="https://exchange.example/imp?price=1.2345&amp;id=bench-bid-1" width="1" height="1">',
          nurl: 'https://dsp.example/win?price=1.2345&imp=1&auction=bench-request',
          burl: 'https://exchange.example/notify/billing?price=1.2345&imp=1',
        },
      ],
    },
  ],
}
const CANNED_BODY = Buffer.from(JSON.stringify(CANNED_BID))

type Mode = 'canned' | 'json'

interface ImpLike {
  readonly id?: unknown
  readonly banner?: { readonly format?: readonly { w?: number; h?: number }[] }
}

/** Mode json: the cheapest real OpenRTB work, one bid per imp built from the parsed request. */
function jsonAnswer(body: Buffer): string {
  const request = JSON.parse(body.toString('utf8')) as { id?: unknown; imp?: readonly ImpLike[] }
  const template = CANNED_BID.seatbid[0]!.bid[0]!
  const bids = (request.imp ?? []).map((imp, i) => {
    const format = imp.banner?.format?.[0]
    return { ...template, id: `bid-${i + 1}`, impid: imp.id, w: format?.w ?? 300, h: format?.h ?? 250 }
  })
  return JSON.stringify({ ...CANNED_BID, id: request.id, seatbid: [{ seat: 'bench-seat', bid: bids }] })
}

function onAuction(res: HttpResponse, mode: Mode): void {
  let isAborted = false
  let chunks: Buffer[] | null = null
  res.onAborted(() => {
    isAborted = true
  })
  res.onData((chunk, isLast) => {
    if (!isLast) {
      // uWS neuters the chunk when this callback returns: keep a copy.
      ;(chunks ??= []).push(Buffer.from(new Uint8Array(chunk)))
      return
    }
    if (isAborted) return
    const body =
      chunks === null ? Buffer.from(chunk) : Buffer.concat([...chunks, Buffer.from(new Uint8Array(chunk))])
    let answer: Buffer | string = CANNED_BODY
    let status = '200 OK'
    if (mode === 'json') {
      try {
        answer = jsonAnswer(body)
      } catch {
        status = '400 Bad Request'
        answer = '{"error":"malformed body"}'
      }
    }
    res.cork(() => {
      res.writeStatus(status).writeHeader('content-type', 'application/json').end(answer)
    })
  })
}

function main(): void {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      mode: { type: 'string', default: 'canned' },
    },
    strict: true,
  })
  const mode = values.mode
  if (mode !== 'canned' && mode !== 'json') throw new Error(`--mode must be canned or json (got ${mode})`)
  // A ceiling measured on uWS's pure-JS fallback would be meaningless.
  if (!String(uWS.App).includes('[native code]')) throw new Error('uWebSockets.js native binary not loaded')
  const app = uWS.App()
  app.post('/openrtb2/auction', (res) => onAuction(res, mode))
  app.get(
    '/healthz',
    (res) => void res.writeHeader('content-type', 'application/json').end('{"status":"ok"}'),
  )
  app.any('/*', (res) => void res.writeStatus('404 Not Found').end())
  app.listen(values.host, Number(values.port), (socket) => {
    if (socket === false) {
      console.error(`bare-uws-server: cannot listen on ${values.host}:${values.port}`)
      process.exit(1)
    }
    const port = uWS.us_socket_local_port(socket as never)
    console.log(`bare-uws-server (${mode}) listening on http://${values.host}:${port}/openrtb2/auction`)
  })
  const exit = (): never => process.exit(0)
  process.on('SIGTERM', exit)
  process.on('SIGINT', exit)
}

main()
