import type { HttpResponse } from './uws.js'

/** Status lines as uWS wants them, computed once. */
export const STATUS_LINE: Readonly<Record<number, string>> = {
  200: '200 OK',
  204: '204 No Content',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  408: '408 Request Timeout',
  413: '413 Content Too Large',
  415: '415 Unsupported Media Type',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
}

/** Writes a complete JSON (or empty) answer; call inside res.cork() when not in the handler's first tick. */
export function writeJson(res: HttpResponse, status: number, body: string, closeConnection = false): void {
  res.writeStatus(STATUS_LINE[status] ?? `${status} Status`)
  if (body === '') {
    res.endWithoutBody(0, closeConnection)
    return
  }
  res.writeHeader('content-type', 'application/json')
  res.end(body, closeConnection)
}

export function errorBody(error: string, message: string, field?: string): string {
  return JSON.stringify(field === undefined ? { error, message } : { error, field, message })
}
