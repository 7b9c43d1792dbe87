/**
 * A background task run pass after pass: never two passes at once, a wake during a pass runs
 * another right after it, a failed pass is handed to `onError` (which logs it and may say when
 * to try again), and `stop` waits for the pass in progress. The detector's looks, each outbox
 * lane and the drainer are loops.
 */
export type LoopOptions = {
  /** One pass; resolves to the delay before the next (ms; Infinity: only when woken), or nothing for `everyMs`. */
  run: () => Promise<number | void>
  /** The delay between passes (ms; Infinity: only when woken). */
  everyMs: number
  /** The delay before the first pass (ms; default 0). */
  firstMs?: number
  /** A pass that failed (`failures` in a row, this one included): log it here; returns the delay before the next, or nothing for `everyMs`. */
  onError: (err: unknown, failures: number) => number | void
}

export type Loop = {
  start: () => void
  /** Runs a pass now, or right after the one in progress. */
  wake: () => void
  /** No pass starts after this; resolves once the pass in progress is done. */
  stop: () => Promise<void>
}

export const createLoop = (o: LoopOptions): Loop => {
  let stopped = true
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  let again = false
  let failures = 0

  const schedule = (ms: number) => {
    clearTimeout(timer)
    if (!stopped && Number.isFinite(ms)) timer = setTimeout(pass, Math.max(0, ms))
  }
  const failed = (err: unknown) => {
    failures++
    try {
      return o.onError(err, failures) ?? o.everyMs
    } catch {
      return o.everyMs
    }
  }
  const once = async (): Promise<number> => {
    try {
      const next = (await o.run()) ?? o.everyMs
      failures = 0
      return next
    } catch (err) {
      return failed(err)
    }
  }
  const pass = () => {
    if (stopped) return
    if (running) {
      again = true
      return
    }
    clearTimeout(timer)
    again = false
    running = once().then((next) => {
      running = undefined
      // Woken during the pass: what came meanwhile may have been missed, so look again now.
      schedule(again ? 0 : next)
    })
  }
  return {
    start: () => {
      if (!stopped) return
      stopped = false
      schedule(o.firstMs ?? 0)
    },
    wake: pass,
    stop: async () => {
      stopped = true
      clearTimeout(timer)
      await running
    },
  }
}
