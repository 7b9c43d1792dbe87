/**
 * Answers kept as long as what they read stands, for the dashboard's reads. Every tab asking the
 * same question gets one answer, computed once (ClickHouse answers it once, not once per tab):
 *
 * - `renew()`, after each look: the answers asked within `watchMs` are computed again (at most
 *   `renewMax`, the most recently asked first), before the pages are told of the look (live.ts) —
 *   so a page refreshing after a look reads an answer begun after the look ended, and reads it at
 *   once. Answers not asked lately are let go. One renewal runs at a time: looks that end while it
 *   runs share one more after it, and a renewal waits for its answers `roundMs` at most.
 * - `drop()`, on an alert or a delivery: every answer is asked again when next wanted (the page
 *   shows those at once).
 * - `maxAgeMs(q)`: the oldest an answer is given, from when it was ready, looks or not (the
 *   detector may be slow, or stopped); `acrossLooks(q)`: whether it may also outlive a look — a
 *   day's or a week's numbers barely move in one: the page refreshes those every 30 s. An answer
 *   still being computed is shared with whoever asks, whatever its age.
 *
 * At most `max` answers are kept; the one asked least recently goes first. A failed answer is
 * not kept (the next ask computes it again), unless `keepsFailure` says it is an answer (a 404):
 * then it is kept until the next look, and not computed again by a renewal.
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
    renewMax: number
    roundMs: number
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
  type Entry = { q: Q; answer: Promise<T>; readyAt?: number; failed: boolean; look: number; drops: number; askedAt: number }
  let look = 0
  let drops = 0
  // Insertion order is ask order: an entry asked again moves to the end.
  const entries = new Map<string, Entry>()

  const valid = (e: Entry, t: number) =>
    e.drops === drops && (e.look === look || (opts.acrossLooks(e.q) && !e.failed)) && (e.readyAt === undefined || t - e.readyAt < opts.maxAgeMs(e.q))
  const compute = (k: string, q: Q, askedAt: number): Entry => {
    const e: Entry = { q, answer: fn(q), failed: false, look, drops, askedAt }
    e.answer.then(
      () => void (e.readyAt = now()),
      (err: unknown) => {
        e.readyAt = now()
        e.failed = true
        if (entries.get(k) === e && !opts.keepsFailure?.(err)) entries.delete(k)
      },
    )
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

  const round = async () => {
    const t = now()
    const again: Promise<unknown>[] = []
    // The most recently asked first.
    for (const [k, e] of [...entries].sort((x, y) => y[1].askedAt - x[1].askedAt)) {
      if (t - e.askedAt > opts.watchMs) entries.delete(k)
      else if (!e.failed && !valid(e, t) && again.length < opts.renewMax) {
        opts.counted?.('renewed')
        again.push(compute(k, e.q, e.askedAt).answer)
      }
    }
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<void>((r) => (timer = setTimeout(r, opts.roundMs).unref()))
    await Promise.race([Promise.allSettled(again), late])
    clearTimeout(timer)
  }
  let running: Promise<void> | undefined
  let next: Promise<void> | undefined
  const start = (): Promise<void> =>
    (running = round()
      .catch(() => undefined)
      .finally(() => {
        running = undefined
      }))
  const renew = (): Promise<void> => {
    look++
    if (!running) return start()
    return (next ??= running.then(() => {
      next = undefined
      return start()
    }))
  }

  return { get, renew, drop: () => void drops++ }
}
