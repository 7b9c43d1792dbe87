import type { Emit, FlowHandle, FlowOptions } from './types'

/**
 * A named flow (login, download, offline-playback, …) that ends once: `ok()`, `fail(reason)`,
 * or `timeout` when `timeoutMs` passes first. Later calls are ignored.
 */
export const createFlow = (emit: Emit, name: string, opts: FlowOptions = {}): FlowHandle => {
  const start = Date.now()
  let step: string | undefined
  let done = false
  const end = (o: string, reason?: unknown) => {
    if (done) return
    done = true
    clearTimeout(timer)
    emit({
      t: 'flow',
      ts: Date.now(),
      n: String(name),
      o,
      d: Date.now() - start,
      re: reason === undefined ? undefined : String((reason as Error)?.message ?? reason).slice(0, 500),
      sp: step,
    })
  }
  const timer = opts.timeoutMs ? setTimeout(() => end('timeout'), opts.timeoutMs) : undefined
  return {
    ok: () => end('ok'),
    fail: (reason) => end('fail', reason ?? 'failed'),
    step: (s) => {
      step = String(s).slice(0, 100)
    },
  }
}
