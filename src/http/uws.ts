import type * as UwsModule from 'uWebSockets.js'
import { createRequire } from 'node:module'
import { ExchangeError } from '../errors.js'

const require = createRequire(import.meta.url)

/**
 * Loads uWebSockets.js and refuses its pure-JS fallback: the package silently falls back to a
 * `ws`-based implementation when its native binary does not load, which would serve at a fraction
 * of the speed while looking healthy.
 */
function loadNativeUws(): typeof UwsModule {
  if (/^(1|true)$/i.test(process.env['UWS_USE_FALLBACK'] ?? '')) {
    throw new ExchangeError(
      'EX_ERR_NATIVE_UWS_MISSING',
      'UWS_USE_FALLBACK is set: the exchange serves only on native uWS',
    )
  }
  const uws = require('uWebSockets.js') as typeof UwsModule
  const fallbackPath = require.resolve('uWebSockets.js/dist/index.js')
  if (require.cache[fallbackPath] !== undefined) {
    throw new ExchangeError(
      'EX_ERR_NATIVE_UWS_MISSING',
      `the uWebSockets.js native binary did not load for ${process.platform}-${process.arch} ` +
        `(Node ABI ${process.versions.modules}); refusing the slow pure-JS fallback`,
    )
  }
  return uws
}

export const uws = loadNativeUws()
export type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js'
