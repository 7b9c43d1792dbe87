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
    // A name that is not a string (an object thrown with `name: 42`) would be refused by the
    // collector; none is `Error` there.
    ty: (isError && typeof err.name == 'string' && err.name) || fallbackType,
    m: String(m).slice(0, 8000),
    st: isError && err.stack ? String(err.stack).slice(0, 8000) : undefined,
    h: handled,
  }
}
