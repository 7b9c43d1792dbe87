import { fingerprint } from '../grouping/fingerprint.js'
import type { MigrationDb } from './schemaContext.js'

type Group = { fingerprint: string; type: string; message: string; stack: string; url: string; first_ts: string; last_ts: string; events: number }

/** Groups read at a time: their sample stacks are kilobytes each. */
const PAGE = 2000
/** Of a sample stack, what its group key can read (its top frames). */
const STACK_CHARS = 4000

/**
 * Error groups keep their meaning across a change of the grouping: each group stored under an
 * older key (one per project, environment, release and key, with a sample error) is recorded in
 * the releases it was seen in under the key it has now. Without this, every bug already known
 * would be "new" in the next release after an upgrade, and page. Release by release (the events'
 * order starts with it), a page of groups at a time: memory stays small however much is stored.
 */
export const regroupHistory = async (db: MigrationDb, events: string, errorReleases: string): Promise<void> => {
  const releases = await db.rows<{ project: string; env: string; release: string }>(`SELECT DISTINCT project, env, release FROM ${events} WHERE kind = 'error'`)
  for (const r of releases) {
    for (let after = ''; ; ) {
      const groups = await db.rows<Group>(
        `SELECT fingerprint, any(name) AS type, any(message) AS message, substring(any(stack), 1, ${STACK_CHARS}) AS stack, any(url) AS url,
          min(ts) AS first_ts, max(ts) AS last_ts, count() AS events
        FROM ${events}
        WHERE project = {project:String} AND env = {env:String} AND release = {release:String} AND kind = 'error' AND fingerprint > {after:String}
        GROUP BY fingerprint
        ORDER BY fingerprint
        LIMIT ${PAGE}`,
        { ...r, after },
      )
      const moved = groups.flatMap((g) => {
        const now = fingerprint(g.type, g.message, g.stack, g.url)
        return now === g.fingerprint ? [] : [{ ...r, fingerprint: now, stack_fingerprint: now, first_ts: g.first_ts, last_ts: g.last_ts, events: g.events }]
      })
      if (moved.length) await db.insert(errorReleases, moved)
      if (groups.length < PAGE) break
      after = groups.at(-1)!.fingerprint
    }
  }
}
