/** Stable, greppable codes: the `code` of every ExchangeError and the label of rtb_errors_total. */
export type ErrorCode =
  | 'EX_ERR_CONFIG_INVALID'
  | 'EX_ERR_REQUEST_INVALID'
  | 'EX_ERR_BODY_TOO_LARGE'
  | 'EX_ERR_STORE_UNAVAILABLE'
  | 'EX_ERR_DEADLINE_EXCEEDED'
  | 'EX_ERR_NATIVE_UWS_MISSING'

export class ExchangeError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
    this.name = 'ExchangeError'
  }
}

/** Why a DSP call produced no bids. Values, not Errors: no stack capture on the hot path. */
export type DspFailureKind =
  | 'timeout'
  | 'network'
  | 'http_status'
  | 'bad_response'
  | 'too_large'
  | 'adapter_threw'

export const DSP_FAILURE_KINDS: readonly DspFailureKind[] = [
  'timeout',
  'network',
  'http_status',
  'bad_response',
  'too_large',
  'adapter_threw',
]
