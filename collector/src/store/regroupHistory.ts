import { fingerprint } from '../grouping/fingerprint.js'
import type { MigrationDb } from './schema.js'

type Group = { project: string; env: string; fingerprint: string; release: string; type: string; message: string; stack: string; url: string; first_ts: string; last_ts: string; events: number }

/**
 * Error groups keep their meaning across a change of the grouping: each group stored under an
 * older key (one per project, environment, key and release, with a sample error) is recorded in
 * the releases it was seen in under the key it has now. Without this, every bug already known
 * would be "new" in the next release after an upgrade, and page.
 */
export const regroupHistory = async (db: MigrationDb, events: string, errorReleases: string): Promise<void> => {
  const groups = await db.rows<Group>(
    `SELECT project, env, fingerprint, release, any(name) AS type, any(message) AS message, any(stack) AS stack, any(url) AS url,
      min(ts) AS first_ts, max(ts) AS last_ts, count() AS events
    FROM ${events} WHERE kind = 'error'
    GROUP BY project, env, fingerprint, release`,
  )
  const moved = groups.flatMap((g) => {
    const now = fingerprint(g.type, g.message, g.stack, g.url)
    return now === g.fingerprint ? [] : [{ project: g.project, env: g.env, fingerprint: now, stack_fingerprint: now, release: g.release, first_ts: g.first_ts, last_ts: g.last_ts, events: g.events }]
  })
  for (let i = 0; i < moved.length; i += 10_000) await db.insert(errorReleases, moved.slice(i, i + 10_000))
}
