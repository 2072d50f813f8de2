import type { DspAdapterName } from '../../../config/config.js'
import type { DspAdapter } from './dsp-adapter.js'
import { openrtb25Adapter } from './openrtb25/openrtb25-adapter.js'
import { openrtb26Adapter } from './openrtb26/openrtb26-adapter.js'

/** Every adapter, in a fixed order: a DSP's `adapterIndex` is its adapter's place here. */
export const ADAPTERS: readonly DspAdapter[] = [openrtb26Adapter, openrtb25Adapter]

export function adapterIndexOf(name: DspAdapterName | undefined): number {
  return Math.max(
    0,
    ADAPTERS.findIndex((a) => a.name === (name ?? 'openrtb26')),
  )
}
