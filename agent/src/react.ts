/**
 * React 18/19 (`vigil/agent/react`): an error boundary, and the root options of React 19's
 * `createRoot`, so the errors React catches before `window.onerror` — a render error an error
 * boundary replaced with its fallback, a tree React unmounted — reach the agent.
 *
 *   createRoot(el, rootOptions()).render(<ErrorBoundary fallback={<Oops />}><App /></ErrorBoundary>)
 */
import { Component, type ErrorInfo, type ReactNode } from 'react'
import { reportError } from './report'

/** Errors reported once: React 19 hands an error a boundary caught to `onCaughtError` as well. */
const reported = new WeakSet<object>()
const report = (error: unknown, fatal: boolean) => {
  if (typeof error == 'object' && error) {
    if (reported.has(error)) return
    reported.add(error)
  }
  reportError(error, { fatal })
}

export type ErrorBoundaryProps = {
  children?: ReactNode
  /** What shows instead of the children that threw: a node, or one made from the error (`reset` renders the children again). */
  fallback?: ReactNode | ((p: { error: unknown; reset: () => void }) => ReactNode)
  /** Does the fallback mean the app could not go on (the session crashed)? Yes unless false: say false for a boundary around a widget the page does without. */
  fatal?: boolean
  onError?: (error: unknown, info: ErrorInfo) => void
}
type State = { failed: boolean; error: unknown }

/**
 * Reports the error its children threw while rendering, then shows `fallback`. A class: React's
 * error boundaries can only be one (https://react.dev/reference/react/Component#catching-rendering-errors-with-an-error-boundary).
 */
export class ErrorBoundary extends Component<ErrorBoundaryProps, State> {
  override state: State = { failed: false, error: null }
  static getDerivedStateFromError(error: unknown): State {
    return { failed: true, error }
  }
  override componentDidCatch(error: unknown, info: ErrorInfo) {
    report(error, this.props.fatal !== false)
    if (this.props.onError) this.props.onError(error, info)
  }
  reset = () => this.setState({ failed: false, error: null })
  override render(): ReactNode {
    if (!this.state.failed) return this.props.children
    const f = this.props.fallback
    return typeof f == 'function' ? f({ error: this.state.error, reset: this.reset }) : f
  }
}

type Handler = (error: unknown, info: { componentStack?: string | null; errorBoundary?: unknown }) => void
export type RootErrorOptions = {
  /** Errors an error boundary caught: fatal unless false (as ErrorBoundary's `fatal`). */
  caughtFatal?: boolean
  onCaughtError?: Handler
  onUncaughtError?: Handler
  onRecoverableError?: Handler
}

/**
 * Options for React 19's `createRoot` and `hydrateRoot`: an error a boundary caught (fatal unless
 * `caughtFatal: false`), an error none caught (React unmounted the tree: fatal), an error React
 * recovered from (handled). Each then goes to the app's own handler, when given, or to the
 * console. An uncaught error with no handler of the app's goes where React's default sends it,
 * the browser's `reportError` — the page's error listeners, the agent's among them (it counts it
 * there, once), and other SDKs'. React 18 takes only `onRecoverableError`; its uncaught errors
 * reach the agent through the page's error listeners.
 */
export const rootOptions = (own: RootErrorOptions = {}) => {
  const to = (fatal: (info: Parameters<Handler>[1]) => boolean, h: Handler | undefined): Handler => (error, info) => {
    report(error, fatal(info))
    if (h) h(error, info)
    else console.error(error)
  }
  const platform = (globalThis as { reportError?: (error: unknown) => void }).reportError
  return {
    // React calls this before the boundary's componentDidCatch: one of ours says itself whether it is fatal.
    onCaughtError: to((info) => (info.errorBoundary instanceof ErrorBoundary ? info.errorBoundary.props.fatal : own.caughtFatal) !== false, own.onCaughtError),
    onUncaughtError: own.onUncaughtError || !platform ? to(() => true, own.onUncaughtError) : (error: unknown) => platform(error),
    onRecoverableError: to(() => false, own.onRecoverableError),
  }
}
