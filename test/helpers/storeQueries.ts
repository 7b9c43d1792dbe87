/**
 * The tests' and benchmarks' own queries on the store, which the collector never runs: counting
 * and reading events back, inserting rows directly (seeding), and plain SQL (`EXPLAIN`,
 * `system.*`, the Grafana panels' queries). Each takes the store (its `db`).
 */
import type { Db, DetectorReads, EventRow } from '../../collector/src/store/index.js'
import { EVENTS, type Kind } from '../../collector/src/store/tables.js'

type HasDb = { db: Db }

export type EventFilter = { release?: string; kind?: Kind; name?: string }

const matching = `project = {project:String}
        AND ({release:String} = '' OR release = {release:String})
        AND ({kind:String} = '' OR toString(kind) = {kind:String})
        AND ({name:String} = '' OR name = {name:String})`
const filterParams = (project: string, f: EventFilter) => ({ project, release: f.release ?? '', kind: f.kind ?? '', name: f.name ?? '' })

/** How many events of a project match the filter. */
export const countEvents = async (store: HasDb, project: string, filter: EventFilter = {}): Promise<number> => {
  const [r] = await store.db.rows<{ n: number }>(`SELECT count() AS n FROM ${EVENTS} WHERE ${matching}`, filterParams(project, filter))
  return r?.n ?? 0
}

/** The newest events matching the filter, newest first (at most `limit`, 1000 unless given). */
export const storedEvents = async (store: HasDb, project: string, filter: EventFilter & { limit?: number } = {}): Promise<EventRow[]> =>
  store.db.rows<EventRow>(
    `SELECT * EXCEPT (ts, received), toUnixTimestamp64Milli(ts) AS ts, toUnixTimestamp64Milli(received) AS received
      FROM ${EVENTS} WHERE ${matching}
      ORDER BY ts DESC LIMIT {limit:UInt32}`,
    { ...filterParams(project, filter), limit: filter.limit ?? 1000 },
  )

/** Inserts rows in one insert (seeding, past the spool). With a token, a repeated insert of the same rows is dropped. */
export const insertEvents = async (store: HasDb, rows: EventRow[], dedupToken?: string): Promise<void> => {
  if (rows.length === 0) return
  await store.db.insert(EVENTS, rows, dedupToken ? { insert_deduplication_token: dedupToken, deduplicate_blocks_in_dependent_materialized_views: 1 } : {})
}

/** A query without parameters, its rows as JSON. */
export const runSql = <T>(store: HasDb, query: string): Promise<T[]> => store.db.rows<T>(query)

/** One window's rows of a batched read of the detector's (`windowCrashes`, `windowFlows`, `windowVitals`), for a project over [from, to]. */
const oneWindow = async <T>(read: (windows: { project: string; from: number; to: number }[]) => Promise<T[][]>, project: string, from: number, to: number): Promise<T[]> =>
  (await read([{ project, from, to }]))[0]!

/** The detector's reads of one window, as tests compare them with other counts. */
export const windowOf = (d: DetectorReads, project: string, from: number, to: number) => ({
  crashes: () => oneWindow(d.windowCrashes, project, from, to),
  flows: () => oneWindow(d.windowFlows, project, from, to),
  vitals: () => oneWindow(d.windowVitals, project, from, to),
})

/**
 * Where events went when a count comes up short: what the collector counted (accepted, refused,
 * duplicate, stored, quarantined), the spool's state, and what the store holds per release, kind
 * and batch. Printed by tests that count stored events, so a short count in CI says where it was lost.
 */
export const whereEventsWent = async (c: { url: string; app: { vigil: { store: HasDb; spool: { sealed: () => unknown[]; bytes: () => number } } } }): Promise<string> => {
  const metrics = (await (await fetch(`${c.url}/metrics`)).text()).split('\n')
  const counted = metrics.filter((l) => /^vigil_(events_(refused|dropped|accepted)|batches_(refused|duplicate)|rows_(quarantined|stored)|spool_(bytes|segments))/.test(l))
  const stored = await runSql(c.app.vigil.store, 'SELECT release, kind, batch, count() AS n FROM events GROUP BY ALL ORDER BY ALL')
  const parts = await runSql(c.app.vigil.store, "SELECT name, rows, modification_time FROM system.parts WHERE table = 'events' ORDER BY name")
  const spool = { sealed: c.app.vigil.spool.sealed().length, bytes: c.app.vigil.spool.bytes() }
  return [...counted, `spool ${JSON.stringify(spool)}`, `parts ${JSON.stringify(parts)}`, `stored ${JSON.stringify(stored)}`].join('\n')
}
