import { uid } from './lib/uid'
import type { Send } from './createTransport'
import type { WireEvent } from './types'

export type BatchDefaults = { k: string; r: string; e: string; s: string }

type Batch = BatchDefaults & { id: string; ev: WireEvent[] }

const MAX_EVENTS = 20
const DELAY_MS = 1000
const MAX_PENDING = 30

/**
 * Collects events into batches: sent when 20 are waiting, a second after the first, or at once
 * when the page is hidden. A batch keeps its id across retries so the collector stores it once;
 * it is retried with backoff and jitter on a network error, a 5xx or a 429.
 */
export const createBatcher = (defaults: BatchDefaults, send: Send) => {
  let events: WireEvent[] = []
  const pending: Batch[] = []
  let timer: ReturnType<typeof setTimeout> | undefined
  let inFlight = false
  let failures = 0

  const schedule = (ms: number) => {
    if (!timer) timer = setTimeout(() => flush(), ms)
  }

  const flush = (unloading?: boolean): void => {
    clearTimeout(timer)
    timer = undefined
    if (events.length) {
      pending.push({ ...defaults, id: uid(), ev: events })
      events = []
      if (pending.length > MAX_PENDING) pending.shift()
    }
    if (!pending.length || (inFlight && !unloading)) return
    if (unloading) {
      // The page is going: hand everything to the browser now, it will not come back for answers.
      for (const b of pending.splice(0)) send(JSON.stringify({ ...b, at: Date.now() }), true)
      return
    }
    const batch = pending[0]!
    inFlight = true
    send(JSON.stringify({ ...batch, at: Date.now() })).then((status) => {
      inFlight = false
      const retry = !status || status >= 500 || status === 429
      if (!retry) {
        // Delivered, or refused for good (4xx): either way it is done.
        pending.splice(pending.indexOf(batch) >>> 0, 1)
        failures = 0
        if (pending.length || events.length) flush()
        return
      }
      failures++
      schedule(Math.random() * Math.min(60000, 1000 * 2 ** failures))
    })
  }

  const push = (ev: WireEvent) => {
    events.push(ev)
    if (events.length >= MAX_EVENTS) flush()
    else schedule(DELAY_MS)
  }

  return { push, flush }
}
