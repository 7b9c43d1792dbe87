/**
 * Answers kept as long as what they read stands, for the dashboard's reads. Every tab asking the
 * same question gets one answer, computed once (ClickHouse answers it once, not once per tab):
 *
 * - `renew()`, after each look: every answer asked within `watchMs` is computed again, before the
 *   pages are told of the look (live.ts) — so a page refreshing after a look reads an answer begun
 *   after the look ended, and reads it at once. Answers not asked lately are let go.
 * - `drop()`, on an alert or a delivery: every answer is asked again when next wanted (the page
 *   shows those at once).
 * - `maxAgeMs(q)`: the oldest an answer is given, looks or not (the detector may be slow, or stopped);
 *   `acrossLooks(q)`: whether it may also outlive a look — a day's or a week's numbers barely move
 *   in one: the page refreshes those every 30 s.
 *
 * At most `max` answers are kept; the one asked least recently goes first. A failed answer is
 * not kept (the next ask computes it again), unless `keepsFailure` says it is an answer (a 404).
 */
export type Snapshots<Q, T> = {
  get: (q: Q) => Promise<T>
  renew: () => Promise<void>
  drop: () => void
}

export const snapshots = <Q, T>(
  fn: (q: Q) => Promise<T>,
  key: (q: Q) => string,
  opts: {
    max: number
    watchMs: number
    maxAgeMs: (q: Q) => number
    acrossLooks: (q: Q) => boolean
    /** A failure that is an answer, kept like one (a release not seen yet: 404). */
    keepsFailure?: (err: unknown) => boolean
    /** Told how each answer was given: kept, computed when asked, or renewed after a look. */
    counted?: (answer: 'kept' | 'computed' | 'renewed') => void
    now?: () => number
  },
): Snapshots<Q, T> => {
  const now = opts.now ?? Date.now
  type Entry = { q: Q; answer: Promise<T>; at: number; look: number; drops: number; askedAt: number }
  let look = 0
  let drops = 0
  // Insertion order is ask order: an entry asked again moves to the end.
  const entries = new Map<string, Entry>()

  const valid = (e: Entry, t: number) => e.drops === drops && t - e.at < opts.maxAgeMs(e.q) && (e.look === look || opts.acrossLooks(e.q))
  const compute = (k: string, q: Q, askedAt: number): Entry => {
    const e: Entry = { q, answer: fn(q), at: now(), look, drops, askedAt }
    e.answer.catch((err: unknown) => {
      if (entries.get(k) === e && !opts.keepsFailure?.(err)) entries.delete(k)
    })
    entries.delete(k)
    entries.set(k, e)
    while (entries.size > opts.max) entries.delete(entries.keys().next().value as string)
    return e
  }

  const get = (q: Q): Promise<T> => {
    const k = key(q)
    const t = now()
    const e = entries.get(k)
    if (e && valid(e, t)) {
      e.askedAt = t
      entries.delete(k)
      entries.set(k, e)
      opts.counted?.('kept')
      return e.answer
    }
    opts.counted?.('computed')
    return compute(k, q, t).answer
  }

  // One renewal at a time: when answers take longer than a look, looks do not pile them up.
  let renewing: Promise<void> = Promise.resolve()
  const renewOnce = async () => {
    const t = now()
    const again: Promise<unknown>[] = []
    for (const [k, e] of [...entries]) {
      if (t - e.askedAt > opts.watchMs) entries.delete(k)
      else if (!valid(e, t)) {
        opts.counted?.('renewed')
        again.push(compute(k, e.q, e.askedAt).answer)
      }
    }
    await Promise.allSettled(again)
  }
  const renew = () => {
    look++
    renewing = renewing.then(renewOnce)
    return renewing
  }

  return { get, renew, drop: () => void drops++ }
}
