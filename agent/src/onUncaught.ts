import { errorEvent } from './errorEvent'
import { safe } from './lib/safe'
import type { Emit } from './types'

/**
 * Reports uncaught errors and unhandled rejections. Listeners, not `window.onerror`, so the
 * page's own handlers keep working and see everything they saw before.
 */
export const onUncaught = (emit: Emit): void => {
  if (typeof addEventListener !== 'function') return
  addEventListener(
    'error',
    safe((ev: ErrorEvent) => {
      // Resource load failures (img, script 404) are Events without a message: not errors of the app.
      if (!ev.message && !ev.error) return
      if (ev.error) return emit(errorEvent(ev.error, false))
      // A cross-origin script without CORS headers: the browser hides everything.
      const opaque = ev.message === 'Script error.' || ev.message === 'Script error'
      emit({ ...errorEvent(ev.message, false), ty: opaque ? 'CrossOriginScriptError' : 'Error', st: opaque ? undefined : `at ${ev.filename}:${ev.lineno}:${ev.colno}` })
    }),
  )
  addEventListener(
    'unhandledrejection',
    safe((ev: PromiseRejectionEvent) => emit(errorEvent(ev.reason, false))),
  )
}
