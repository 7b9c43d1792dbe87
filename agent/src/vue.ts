/**
 * Vue 3 (`vigil/agent/vue`): Vue catches the errors its components throw (rendering, lifecycle
 * hooks, watchers, event handlers) and hands them to `app.config.errorHandler`, never to
 * `window.onerror`. This plugin reports them, then hands them on to the handler the app had, or
 * logs them as Vue does without one.
 *
 *   createApp(App).use(vigilVue).mount('#app')
 */
import { reportError } from './report'

type ErrorHandler = (error: unknown, instance: unknown, info: string) => void
type VueApp = { config: { errorHandler?: ErrorHandler } }

export type VueOptions = {
  /**
   * Does an error Vue caught crash the session? By default yes: nothing in the app caught it, as
   * an uncaught error. A function decides per error (`info` says where Vue caught it).
   */
  fatal?: boolean | ((error: unknown, info: string) => boolean)
}

export const vigilVue = {
  install(app: VueApp, o: VueOptions = {}) {
    const previous = app.config.errorHandler
    app.config.errorHandler = (error, instance, info) => {
      reportError(error, { fatal: typeof o.fatal == 'function' ? o.fatal(error, info) : o.fatal !== false })
      if (previous) previous(error, instance, info)
      else console.error(error)
    }
  },
}
