import { g } from './lib/global'
import { now } from './lib/now'
import { readJson } from './lib/readJson'
import type { KeyValueStore, Transport, WireEvent } from './types'

/** A batch as kept in the outbox: its id stays the same on every retry. */
export type Batch = { id: string; k: string; r?: string; e?: string; s: string; ev: WireEvent[]; dr?: number }

const KEY = 'vigil.q'
const MAX_BATCHES = 50
const MAX_BYTES = 400000

/**
 * The persistent outbox. Every batch is written to storage before it is sent and removed only
 * once the collector has answered for it (or refused it for good), so a batch made offline, or
 * in flight when the page reloads, is sent on `online`, on the next load, or after the next
 * successful send — with its original event times. Bounded by count and bytes: the oldest
 * batches go first, and how many events went is carried in `dr` of the oldest batch kept.
 */
export const createOutbox = (store: KeyValueStore, send: Transport) => {
  let busy = 0
  let failures = 0
  let until = 0
  // Batches sent all at once (the page going, or the network back) and not answered yet: they go once.
  const handed: Record<string, 1> = {}

  const read = (): Batch[] => readJson<Batch[]>(store, KEY) || []

  const write = (q: Batch[]) => {
    for (;;) {
      const s = JSON.stringify(q)
      try {
        if (q.length < 2 || (q.length <= MAX_BATCHES && s.length <= MAX_BYTES)) return store.setItem(KEY, s)
      } catch {
        // Storage full: drop the oldest below.
      }
      if (!q.length) return
      const old = q.shift()!
      if (q[0]) q[0].dr = (q[0].dr || 0) + (old.dr || 0) + old.ev.length
    }
  }

  const remove = (id: string) => write(read().filter((b) => b.id !== id))


  // A transport that throws (a page may have patched fetch) is a network failure, not an exception.
  const post = (b: Batch, unloading?: boolean): Promise<[number, number?]> =>
    new Promise<[number, number?]>((r) => r(send(JSON.stringify({ ...b, at: now() }), unloading))).catch(() => [0])
  /** Stored, or refused for good (4xx): either way the batch is done. */
  const done = (status: number) => status && status < 500 && status != 429

  /** Not sent: again after Retry-After, or a backoff with full jitter (up to a minute). */
  const later = (retryAfter?: number) => {
    const wait = 1000 * (retryAfter || Math.random() * Math.min(60, 2 ** ++failures))
    // An earlier timer that fires meanwhile finds `until` ahead and returns; this one finds it
    // passed, a little early (a timer may fire a millisecond before Date.now() says its time came,
    // and then no timer was left: the outbox waited for the next event or page).
    until = now() + wait - 9
    setTimeout(flush, wait)
  }

  const flush = (unloading?: boolean): void => {
    const q = read()
    if (!q.length || (g.navigator && g.navigator.onLine === false)) return
    if (unloading) {
      // Everything at once, as keepalive requests that outlive the page. A batch leaves the outbox
      // only when answered: when the page is gone first, or the request never made it (a network
      // that was down while `onLine` said up), the next page sends it again, and the collector
      // stores it once (by its id). One that fails while the page stays goes again a second later,
      // one at a time (batches sent at once fail together, past the browsers' keepalive budget or
      // into a network that went: one failure, not one each, for the backoff that follows; a
      // Retry-After is heeded from that next answer on).
      for (const b of q) handed[b.id] || ((handed[b.id] = 1), post(b, true).then(([status]) => (done(status) ? remove(b.id) : (delete handed[b.id], later(1)))))
      return
    }
    // One at a time, the oldest first; not one already on its way.
    const b = q.find((x) => !handed[x.id])
    if (!b || busy || now() < until) return
    busy = 1
    post(b).then(([status, retryAfter]) => {
      busy = 0
      if (done(status)) {
        failures = 0
        remove(b.id)
        flush()
      } else later(retryAfter)
    })
  }

  /** The network is back: what waits goes now, whatever the backoff said. */
  const online = () => {
    until = failures = 0
    flush()
  }

  const add = (b: Batch, unloading?: boolean) => {
    const q = read()
    q.push(b)
    write(q)
    flush(unloading)
  }

  return { _add: add, _flush: flush, _online: online }
}
