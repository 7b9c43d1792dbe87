import { errorEvent } from './errorEvent'
import { on } from './lib/on'
import { safe } from './lib/safe'
import type { Emit } from './types'

/**
 * Reports uncaught errors and unhandled rejections. Listeners, not `window.onerror`, so the
 * page's own handlers keep working and see everything they saw before.
 */
export const onUncaught = (emit: Emit): void => {
  on(
    'error',
    // Resource load failures (img, script 404) are plain Events without a message: not app errors.
    // A cross-origin script without CORS headers shows only "Script error.": marked as such.
    // https://developer.mozilla.org/docs/Web/API/Window/error_event#usage_notes
    safe((ev: ErrorEvent) =>
      ev.error
        ? emit(errorEvent(ev.error, false))
        : ev.message && emit(errorEvent(ev.message, false, /^Script error/.test(ev.message) ? 'CrossOriginScriptError' : undefined)),
    ),
  )
  on(
    'unhandledrejection',
    safe((ev: PromiseRejectionEvent) => emit(errorEvent(ev.reason, false, 'UnhandledRejection'))),
  )
}
