/** The schema's upkeep, run by app.ts once ClickHouse answers: migrations, then the retention's TTLs. */
import type { Db } from './connection.js'
import { migrations, migrationsTable } from './schema.js'
import { ERROR_RELEASES, EVENTS, MIGRATIONS, RELEASE_CLIENTS, RELEASE_MINUTE, RELEASE_SPANS, RELEASE_STATS_DAY, RELEASE_STATS_HOUR, RELEASE_STATS_MINUTE, SESSION_ERRORS, SESSION_FLOWS, SESSION_FLAGS, SESSION_HEALTH, SESSION_VITALS } from './tables.js'

/** Creates or upgrades the schema; returns the versions it applied. */
export const migrate = async (db: Db): Promise<number[]> => {
  const { ctx } = db
  await db.createDatabase()
  for (const statement of migrationsTable(ctx)) await db.command(statement)
  const done = new Set((await db.rows<{ version: number }>(`SELECT version FROM ${MIGRATIONS} FINAL`)).map((r) => r.version))
  const applied: number[] = []
  for (const m of migrations) {
    if (done.has(m.version)) continue
    for (const statement of m.up(ctx)) await db.command(statement)
    await m.data?.({ rows: db.rows, insert: (table, values) => db.insert(table, values) })
    await db.insert(MIGRATIONS, [{ version: m.version, name: m.name, applied: Date.now() }])
    applied.push(m.version)
  }
  return applied
}

/** Sets the TTL of events and rollups to `days`, when it differs. */
export const applyRetention = async (db: Db, days: number): Promise<void> => {
  if (!Number.isInteger(days) || days < 1) throw new Error(`retention must be a whole number of days, got ${days}`)
  const ttl = {
    [EVENTS]: `toDateTime(ts) + toIntervalDay(${days})`,
    [RELEASE_MINUTE]: `minute + toIntervalDay(${days})`,
    ...Object.fromEntries([RELEASE_STATS_MINUTE, RELEASE_STATS_HOUR, RELEASE_STATS_DAY].map((t) => [t, `bucket + toIntervalDay(${days})`])),
    ...Object.fromEntries([SESSION_FLOWS, SESSION_HEALTH, SESSION_ERRORS, SESSION_VITALS, SESSION_FLAGS, ERROR_RELEASES, RELEASE_SPANS, RELEASE_CLIENTS].map((t) => [t, `toDateTime(last_ts) + toIntervalDay(${days})`])),
  }
  for (const [table, expr] of Object.entries(ttl)) {
    const [t] = await db.rows<{ engine_full: string }>(
      `SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {t:String}`,
      { t: db.cluster ? `${table}_local` : table },
    )
    if (!t || t.engine_full.replace(/\s+/g, '').includes(`TTL${expr}`.replace(/\s+/g, ''))) continue
    // DDL takes no query parameters: `days` is checked to be a whole number above. Only the
    // table's metadata changes now; existing parts follow at their next merge.
    for (const statement of db.ctx.alter(table, `MODIFY TTL ${expr}`, { sharded: true, localOnly: true })) {
      await db.command(statement, { materialize_ttl_after_modify: 0 })
    }
  }
}
