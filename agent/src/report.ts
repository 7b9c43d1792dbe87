/**
 * `reportError(error, { fatal })`: an error the app or its framework caught before the page's
 * error listeners could see it. Fatal — the app could not go on, and shows a fallback screen
 * instead — counts as crashing the session, as an uncaught error does; otherwise it is a handled
 * error. Its own ES module (`vigil/agent/report`), not in the core; react.ts and vue.ts use it.
 */
import { captureError } from './index'

type Vigil = (method: string, ...args: unknown[]) => void

/**
 * To the agent the page runs: the script tag's `window.vigil` (or its stub's queue, before it
 * loads), else the ES module's. A bundle that imports this next to the script tag carries an ES
 * module agent that was never started: it must not be the one told.
 */
export const reportError = (error: unknown, o?: { fatal?: boolean }): void => {
  const fatal = !!(o && o.fatal)
  try {
    const v = (globalThis as { vigil?: unknown }).vigil
    if (typeof v == 'function') (v as Vigil)('captureError', error, fatal)
    else captureError(error, fatal)
  } catch {
    // Never into the page.
  }
}
