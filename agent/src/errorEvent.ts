import type { WireEvent } from './types'

/** An error event from anything thrown or rejected: Errors, strings, objects. */
export const errorEvent = (e: unknown, handled: boolean): WireEvent => {
  const err = e as { name?: unknown; message?: unknown; stack?: unknown } | null
  const isError = !!err && typeof err === 'object' && typeof err.message === 'string'
  let m: string
  try {
    m = isError ? (err!.message as string) : typeof e === 'string' ? e : JSON.stringify(e)
  } catch {
    m = String(e)
  }
  return {
    t: 'error',
    ts: Date.now(),
    ty: (isError && typeof err!.name === 'string' && err!.name) || 'Error',
    m: String(m).slice(0, 2000),
    st: isError && typeof err!.stack === 'string' ? err!.stack.slice(0, 8000) : undefined,
    h: handled,
  }
}
