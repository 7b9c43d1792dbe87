/**
 * The schema: embedded and single-server mode use plain engines; VIGIL_CLICKHOUSE_CLUSTER
 * renders the same migrations ON CLUSTER with Replicated engines and Distributed tables. There is
 * no cluster on this machine, so every cluster statement is checked by ClickHouse's own parser
 * (EXPLAIN AST in the embedded engine) and for its shape. Retention follows VIGIL_RETENTION_DAYS.
 */
import { describe, expect, it } from 'vitest'
import { migrations, migrationsTable } from '../../collector/src/store/schema.js'
import { clusterContext, embeddedContext } from '../../collector/src/store/schemaContext.js'
import { collectorForTests } from '../helpers/collector.js'
import { runSql } from '../helpers/storeQueries.js'

const all = (ctx: typeof embeddedContext) => [...migrationsTable(ctx), ...migrations.flatMap((m) => m.up(ctx))]

describe('schema', () => {
  const collector = collectorForTests({ retentionDays: 7 })

  const query = <T>(sql: string) => runSql<T>(collector().app.vigil.store, sql)

  it('embedded: plain engines, no ON CLUSTER, no Distributed tables', () => {
    const ddl = all(embeddedContext).join('\n')
    expect(ddl).not.toMatch(/ON CLUSTER|Replicated|Distributed/)
    expect(ddl).toMatch(/ENGINE = MergeTree\(\)/)
  })

  it('cluster: every statement ON CLUSTER, sharded tables as Replicated locals behind Distributed ones', async () => {
    const ddl = all(clusterContext('events_cluster'))
    // DDL runs ON CLUSTER; back-fill INSERTs go through the Distributed tables instead.
    for (const statement of ddl.filter((d) => !d.startsWith('INSERT'))) expect(statement).toContain("ON CLUSTER 'events_cluster'")
    const text = ddl.join('\n')
    expect(text).toContain("CREATE TABLE IF NOT EXISTS events_local ON CLUSTER 'events_cluster'")
    expect(text).toContain("ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/events_local', '{replica}')")
    expect(text).toContain("ENGINE = Distributed('events_cluster', currentDatabase(), events_local, sipHash64(session))")
    expect(text).toContain("ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/release_minute_local', '{replica}')")
    // The rollup is fed on each shard from the shard's own rows.
    expect(text).toMatch(/CREATE MATERIALIZED VIEW IF NOT EXISTS release_minute_mv ON CLUSTER 'events_cluster' TO release_minute_local AS\s+SELECT[\s\S]+FROM events_local/)
    // Small tables are replicated to every node, not sharded.
    expect(text).toContain("ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/projects', '{replica}', updated)")
    expect(text).toContain("ALTER TABLE events_local ON CLUSTER 'events_cluster' ADD COLUMN IF NOT EXISTS route")
    expect(text).toContain("ALTER TABLE events ON CLUSTER 'events_cluster' ADD COLUMN IF NOT EXISTS route")
    // ClickHouse (26.x, as embedded) parses every statement.
    for (const statement of ddl) {
      const ast = await query<{ explain: string }>(`EXPLAIN AST ${statement}`)
      expect(ast.length, statement).toBeGreaterThan(0)
    }
  })

  it('refuses a cluster name that is not one', () => {
    expect(() => clusterContext("x' ; DROP TABLE events")).toThrow(/VIGIL_CLICKHOUSE_CLUSTER/)
  })

  it('keeps events and rollups for VIGIL_RETENTION_DAYS', async () => {
    const tables = await query<{ name: string; engine_full: string }>(
      "SELECT name, engine_full FROM system.tables WHERE database = currentDatabase() AND (name IN ('events', 'error_releases') OR name LIKE 'session\\_%' OR name LIKE 'release\\_%') AND engine != 'MaterializedView' ORDER BY name",
    )
    expect(tables.map((t) => [t.name, /TTL (.*?)(?: SETTINGS|$)/.exec(t.engine_full)?.[1]])).toEqual([
      ['error_releases', 'toDateTime(last_ts) + toIntervalDay(7)'],
      ['events', 'toDateTime(ts) + toIntervalDay(7)'],
      ['release_clients', 'toDateTime(last_ts) + toIntervalDay(7)'],
      ['release_minute', 'minute + toIntervalDay(7)'],
      ['release_spans', 'toDateTime(last_ts) + toIntervalDay(7)'],
      ['release_stats_day', 'bucket + toIntervalDay(7)'],
      ['release_stats_hour', 'bucket + toIntervalDay(7)'],
      ['release_stats_minute', 'bucket + toIntervalDay(7)'],
      ['session_errors', 'toDateTime(last_ts) + toIntervalDay(7)'],
      ['session_flags', 'toDateTime(last_ts) + toIntervalDay(7)'],
      ['session_flows', 'toDateTime(last_ts) + toIntervalDay(7)'],
      ['session_health', 'toDateTime(last_ts) + toIntervalDay(7)'],
      ['session_vitals', 'toDateTime(last_ts) + toIntervalDay(7)'],
    ])
  })
})
