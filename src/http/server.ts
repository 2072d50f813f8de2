import type { Exchange } from '../exchange.js'
import type { ExchangeMetrics } from '../metrics/metrics.js'
import { createAuctionHandler } from './auction-route.js'
import type { LoadShedder } from './load-shedder.js'
import { errorBody, STATUS_LINE, writeJson } from './responses.js'
import { type HttpResponse, type TemplatedApp, type us_listen_socket, uws } from './uws.js'

export interface HttpServerDeps {
  readonly exchange: Exchange
  readonly metrics: ExchangeMetrics
  readonly maxBodyBytes: number
  /** Readiness: the catalog is loaded and the process is not draining. */
  readonly isReady: () => boolean
  readonly isDraining: () => boolean
  readonly shedder: LoadShedder
  /** See AuctionRouteDeps.bodyTimeoutMs. */
  readonly bodyTimeoutMs: number
  /** The Prometheus text for GET /metrics. */
  readonly scrapeMetrics: () => Promise<string>
  /** Extra routes (admin API, notices) registered by their owners. */
  readonly extraRoutes?: (app: TemplatedApp) => void
}

export interface HttpServer {
  readonly app: TemplatedApp
  readonly inFlight: { count: number }
  /**
   * Listens on host:port. Exclusive by default: uWS otherwise binds with SO_REUSEPORT, and a second
   * process started on the same port would silently take half the traffic. Worker threads of one
   * process share the port on purpose (`shared: true`).
   */
  listen(host: string, port: number, options?: { shared?: boolean }): Promise<number>
  /** Stops accepting new connections; open keep-alive connections finish their requests. */
  stopListening(): void
  /** Stops the server's timers, after draining. */
  close(): void
}

const NOT_FOUND = errorBody('not_found', 'no such route')
const METHOD_NOT_ALLOWED = errorBody('method_not_allowed', 'method not allowed on this route')

/** The uWS app: the auction route, health, metrics, and clear 404/405 answers for everything else. */
export function createHttpServer(deps: HttpServerDeps): HttpServer {
  const app = uws.App()
  const inFlight = deps.metrics.inFlightCount
  let listenSocket: us_listen_socket | null = null

  const auction = createAuctionHandler({ ...deps, inFlight })
  app.post('/openrtb2/auction', auction.handle)
  app.get('/healthz', (res) => writeJson(res, 200, '{"status":"ok"}'))
  app.get('/readyz', (res) =>
    deps.isReady()
      ? writeJson(res, 200, '{"status":"ready"}')
      : writeJson(res, 503, '{"status":"not_ready"}'),
  )
  app.get('/metrics', (res) => serveMetrics(res, deps.scrapeMetrics, deps.metrics.registry.contentType))
  deps.extraRoutes?.(app)
  for (const [path, allow] of KNOWN_ROUTES) app.any(path, (res) => methodNotAllowed(res, allow))
  app.any('/*', (res) => writeJson(res, 404, NOT_FOUND))

  return {
    app,
    inFlight,
    listen(host, port, options = {}) {
      return new Promise((resolve, reject) => {
        const onListen = (socket: us_listen_socket | false): void => {
          if (socket === false) return reject(new Error(`cannot listen on ${host}:${port}`))
          listenSocket = socket
          resolve(uws.us_socket_local_port(socket as never))
        }
        // The host+port+options overload exists natively; the bundled typings lack it.
        const listen = app.listen as unknown as (h: string, p: number, o: number, cb: typeof onListen) => void
        listen.call(app, host, port, options.shared ? LISTEN_SHARED : LISTEN_EXCLUSIVE, onListen)
      })
    },
    close() {
      auction.stop()
    },
    stopListening() {
      if (listenSocket !== null) uws.us_listen_socket_close(listenSocket)
      listenSocket = null
    },
  }
}

/** uSockets listen options: LIBUS_LISTEN_DEFAULT (SO_REUSEPORT) and LIBUS_LISTEN_EXCLUSIVE_PORT. */
const LISTEN_SHARED = 0
const LISTEN_EXCLUSIVE = 1

const KNOWN_ROUTES: readonly [string, string][] = [
  ['/openrtb2/auction', 'POST'],
  ['/healthz', 'GET'],
  ['/readyz', 'GET'],
  ['/metrics', 'GET'],
]

function methodNotAllowed(res: HttpResponse, allow: string): void {
  res
    .writeStatus(STATUS_LINE[405]!)
    .writeHeader('allow', allow)
    .writeHeader('content-type', 'application/json')
  res.end(METHOD_NOT_ALLOWED)
}

function serveMetrics(res: HttpResponse, scrape: () => Promise<string>, contentType: string): void {
  let isAborted = false
  res.onAborted(() => {
    isAborted = true
  })
  scrape().then(
    (text) => {
      if (isAborted) return
      res.cork(() => {
        res.writeStatus('200 OK').writeHeader('content-type', contentType).end(text)
      })
    },
    () => {
      if (!isAborted)
        res.cork(() => writeJson(res, 500, errorBody('metrics_failed', 'metrics collection failed')))
    },
  )
}
