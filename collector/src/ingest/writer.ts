import type { EventRow, Store } from '../store/index.js'

export type Writer = {
  /** Resolves once the rows are stored in ClickHouse; rejects when the store refused them. */
  write: (rows: EventRow[]) => Promise<void>
  /** Waits for every pending write. */
  drain: () => Promise<void>
}

/**
 * Group commit: requests that arrive while an insert is running wait for the next one, so the
 * store sees a few large inserts instead of one per request, and a request is answered only
 * once its rows are stored.
 */
export const createWriter = (store: Store, maxRowsPerInsert = 20_000): Writer => {
  type Pending = { rows: EventRow[]; done: (err?: unknown) => void }
  const queue: Pending[] = []
  let running: Promise<void> | undefined

  const run = async (): Promise<void> => {
    while (queue.length > 0) {
      const group: Pending[] = []
      let n = 0
      while (queue.length > 0 && (group.length === 0 || n + queue[0]!.rows.length <= maxRowsPerInsert)) {
        const p = queue.shift()!
        group.push(p)
        n += p.rows.length
      }
      try {
        await store.insertEvents(group.flatMap((p) => p.rows))
        for (const p of group) p.done()
      } catch (err) {
        for (const p of group) p.done(err)
      }
    }
    running = undefined
  }

  const write = (rows: EventRow[]): Promise<void> =>
    new Promise((resolve, reject) => {
      queue.push({ rows, done: (err) => (err === undefined ? resolve() : reject(err)) })
      running ??= run()
    })

  const drain = async () => {
    while (running) await running
  }

  return { write, drain }
}
