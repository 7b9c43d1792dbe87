/**
 * The schema as an append-only list of migrations. A migration is never edited once it has
 * landed: a later change is a new entry. Each statement is idempotent (IF NOT EXISTS), so a
 * migration interrupted half way is simply run again.
 */

export const EVENTS = 'events'
export const RELEASE_MINUTE = 'release_minute'
export const RELEASE_MINUTE_MV = 'release_minute_mv'
export const PROJECTS = 'projects'
export const ALERTS = 'alerts'
export const MIGRATIONS = 'vigil_migrations'

/** Rendering context: plain engines embedded; later, Replicated engines and ON CLUSTER. */
export type SchemaContext = {
  /** ` ON CLUSTER name` or '' */
  onCluster: string
  /** Engine clause for a table of the given MergeTree family member, e.g. engine('ReplacingMergeTree', 'updated'). */
  engine: (family: string, args?: string) => string
}

export const embeddedContext: SchemaContext = {
  onCluster: '',
  engine: (family, args = '') => `${family}(${args})`,
}

export type Migration = { version: number; name: string; up: (ctx: SchemaContext) => string[] }

/** Kinds of event, as stored. The order is part of the schema (Enum8 values). */
export const KINDS = ['error', 'flow', 'session', 'vital'] as const
export type Kind = (typeof KINDS)[number]
const kindEnum = `Enum8(${KINDS.map((k, i) => `'${k}' = ${i + 1}`).join(', ')})`

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'events, per-minute release rollup, projects, alerts',
    up: ({ onCluster, engine }) => [
      // Raw events, ordered by what every query filters on first. Time columns carry 'UTC'.
      // non_replicated_deduplication_window lets a replayed insert (same insert_deduplication_token)
      // be recognised and dropped.
      `CREATE TABLE IF NOT EXISTS ${EVENTS}${onCluster} (
        project LowCardinality(String),
        env LowCardinality(String),
        release LowCardinality(String),
        kind ${kindEnum},
        ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD),
        received DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD),
        session String,
        batch String,
        name LowCardinality(String),
        outcome LowCardinality(String),
        value Float64,
        reason String,
        step String,
        message String CODEC(ZSTD),
        stack String CODEC(ZSTD),
        handled UInt8,
        fingerprint String,
        url String CODEC(ZSTD),
        user_agent String CODEC(ZSTD)
      ) ENGINE = ${engine('MergeTree')}
      PARTITION BY toYYYYMMDD(ts)
      ORDER BY (project, env, release, kind, ts)
      TTL toDateTime(ts) + INTERVAL 30 DAY
      SETTINGS non_replicated_deduplication_window = 1000`,

      // Per-minute, per-release rollup. Read it with sum()/uniqMerge() and GROUP BY: merges are
      // never guaranteed, so a key can have several partial rows.
      `CREATE TABLE IF NOT EXISTS ${RELEASE_MINUTE}${onCluster} (
        project LowCardinality(String),
        env LowCardinality(String),
        release LowCardinality(String),
        minute DateTime('UTC'),
        kind ${kindEnum},
        name LowCardinality(String),
        outcome LowCardinality(String),
        events SimpleAggregateFunction(sum, UInt64),
        sessions AggregateFunction(uniq, String),
        first_ts SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
        last_ts SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
      ) ENGINE = ${engine('AggregatingMergeTree')}
      PARTITION BY toYYYYMMDD(minute)
      ORDER BY (project, env, release, minute, kind, name, outcome)
      TTL minute + INTERVAL 30 DAY
      SETTINGS non_replicated_deduplication_window = 1000`,

      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${RELEASE_MINUTE_MV}${onCluster} TO ${RELEASE_MINUTE} AS
      SELECT project, env, release, toStartOfMinute(ts) AS minute, kind, name, outcome,
        count() AS events, uniqState(session) AS sessions, min(ts) AS first_ts, max(ts) AS last_ts
      FROM ${EVENTS}
      GROUP BY project, env, release, minute, kind, name, outcome`,

      // Projects and their ingest keys. The newest row per id wins (read with FINAL).
      `CREATE TABLE IF NOT EXISTS ${PROJECTS}${onCluster} (
        id String,
        name String,
        ingest_key String,
        created DateTime64(3, 'UTC'),
        updated DateTime64(3, 'UTC')
      ) ENGINE = ${engine('ReplacingMergeTree', 'updated')}
      ORDER BY id`,

      // Alerts: one row per (project, dedup key), the newest version wins (read with FINAL).
      `CREATE TABLE IF NOT EXISTS ${ALERTS}${onCluster} (
        project String,
        dedup_key String,
        env String,
        release String,
        rule LowCardinality(String),
        subject String,
        status LowCardinality(String),
        fired_at DateTime64(3, 'UTC'),
        resolved_at Nullable(DateTime64(3, 'UTC')),
        notified UInt8,
        payload String,
        updated DateTime64(3, 'UTC')
      ) ENGINE = ${engine('ReplacingMergeTree', 'updated')}
      ORDER BY (project, dedup_key)`,
    ],
  },
]

export const migrationsTable = ({ onCluster, engine }: SchemaContext): string =>
  `CREATE TABLE IF NOT EXISTS ${MIGRATIONS}${onCluster} (
    version UInt32,
    name String,
    applied DateTime64(3, 'UTC')
  ) ENGINE = ${engine('ReplacingMergeTree', 'applied')}
  ORDER BY version`
