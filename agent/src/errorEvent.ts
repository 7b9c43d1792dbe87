import { now } from './lib/now'
import type { WireEvent } from './types'

/** An error event from anything thrown or rejected: Errors, strings, objects, undefined. */
export const errorEvent = (e: unknown, handled: boolean, fallbackType?: string): WireEvent => {
  const err = (e || {}) as { name?: unknown; message?: unknown; stack?: unknown }
  const isError = typeof err.message == 'string'
  let m: unknown = e
  try {
    m = isError ? err.message : typeof e == 'string' ? e : JSON.stringify(e)
  } catch {
    // A cyclic or hostile object: its String() below.
  }
  return {
    t: 'error',
    ts: now(),
    ty: (isError && err.name) || fallbackType || 'Error',
    m: String(m).slice(0, 2000),
    st: isError && err.stack ? String(err.stack).slice(0, 8000) : undefined,
    h: handled,
  }
}
