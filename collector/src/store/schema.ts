import { regroupHistory } from './regroupHistory.js'

/**
 * The schema as an append-only list of migrations. A migration is never edited once it has
 * landed: a later change is a new entry. Each statement is idempotent (IF NOT EXISTS), so a
 * migration interrupted half way is simply run again.
 */

export const EVENTS = 'events'
export const RELEASE_MINUTE = 'release_minute'
export const RELEASE_MINUTE_MV = 'release_minute_mv'
export const SESSION_FLOWS = 'session_flows'
export const SESSION_HEALTH = 'session_health'
export const SESSION_ERRORS = 'session_errors'
export const DELIVERIES = 'alert_deliveries'
export const PROJECTS = 'projects'
export const ALERTS = 'alerts'
export const MIGRATIONS = 'vigil_migrations'
export const ERROR_RELEASES = 'error_releases'
export const SOURCEMAPS = 'sourcemaps'

/**
 * How DDL renders. Embedded (and a single ClickHouse server): plain engines. On a cluster
 * (VIGIL_CLICKHOUSE_CLUSTER): every statement ON CLUSTER, Replicated engines; sharded tables
 * become `<name>_local` on each shard plus a Distributed `<name>` over them, so queries and
 * inserts keep using the same names; small tables are replicated to every node.
 */
export type SchemaContext = {
  /** CREATE TABLE. `shardBy` makes it sharded on a cluster (its Distributed sharding key). */
  table: (name: string, columns: string, engine: { family: string; args?: string }, tail: string, shardBy?: string) => string[]
  /** A materialised view from one sharded table into another (local to each shard on a cluster). */
  view: (name: string, to: string, from: string, select: (from: string) => string) => string[]
  /** ALTER TABLE; on a cluster a sharded table's change goes to the local tables and, unless `localOnly`, to the Distributed one. */
  alter: (name: string, clause: string, opts?: { sharded?: boolean; localOnly?: boolean }) => string[]
  /** DROP VIEW of a materialised view made by `view`. */
  dropView: (name: string) => string[]
}

export const embeddedContext: SchemaContext = {
  table: (name, columns, { family, args = '' }, tail) => [`CREATE TABLE IF NOT EXISTS ${name} (${columns}) ENGINE = ${family}(${args})${tail}`],
  view: (name, to, from, select) => [`CREATE MATERIALIZED VIEW IF NOT EXISTS ${name} TO ${to} AS\n      ${select(from)}`],
  alter: (name, clause) => [`ALTER TABLE ${name} ${clause}`],
  dropView: (name) => [`DROP VIEW IF EXISTS ${name}`],
}

export const clusterContext = (cluster: string): SchemaContext => {
  if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(cluster)) throw new Error(`VIGIL_CLICKHOUSE_CLUSTER must be a cluster name, got ${JSON.stringify(cluster)}`)
  const on = ` ON CLUSTER '${cluster}'`
  const replicated = (family: string, path: string, args = '') =>
    `Replicated${family}('/clickhouse/tables/${path}', '{replica}'${args ? `, ${args}` : ''})`
  return {
    table: (name, columns, { family, args }, tail, shardBy) =>
      shardBy
        ? [
            `CREATE TABLE IF NOT EXISTS ${name}_local${on} (${columns}) ENGINE = ${replicated(family, `{shard}/{database}/${name}_local`, args)}${tail}`,
            `CREATE TABLE IF NOT EXISTS ${name}${on} AS ${name}_local ENGINE = Distributed('${cluster}', currentDatabase(), ${name}_local, ${shardBy})`,
          ]
        : [`CREATE TABLE IF NOT EXISTS ${name}${on} (${columns}) ENGINE = ${replicated(family, `all/{database}/${name}`, args)}${tail}`],
    view: (name, to, from, select) => [`CREATE MATERIALIZED VIEW IF NOT EXISTS ${name}${on} TO ${to}_local AS\n      ${select(`${from}_local`)}`],
    alter: (name, clause, opts = {}) =>
      opts.sharded
        ? [`ALTER TABLE ${name}_local${on} ${clause}`, ...(opts.localOnly ? [] : [`ALTER TABLE ${name}${on} ${clause}`])]
        : [`ALTER TABLE ${name}${on} ${clause}`],
    dropView: (name) => [`DROP VIEW IF EXISTS ${name}${on}`],
  }
}

/** What a migration that moves data (not only DDL) gets: the same connection, row by row. */
export type MigrationDb = {
  rows: <T>(query: string, params?: Record<string, unknown>) => Promise<T[]>
  insert: (table: string, values: unknown[]) => Promise<void>
}

/**
 * `up` is DDL (and SQL back-fills); `data`, when there is one, runs after it, for what SQL alone
 * cannot compute. Both are run again when a migration was interrupted, so both must be safe to
 * repeat.
 */
export type Migration = { version: number; name: string; up: (ctx: SchemaContext) => string[]; data?: (db: MigrationDb) => Promise<void> }

/** Kinds of event, as stored. The order is part of the schema (Enum8 values). */
export const KINDS = ['error', 'flow', 'session', 'vital'] as const
export type Kind = (typeof KINDS)[number]
const kindEnum = `Enum8(${KINDS.map((k, i) => `'${k}' = ${i + 1}`).join(', ')})`

/**
 * The per-session rollups' views (migration 3), and since migration 8 with the client's network
 * (`net`, the largest value a session's events carry: '' only when none has one).
 */
const withNet = (net: boolean) => (net ? ', max(net) AS net' : '')
const flows = (from: string, net = false) => `SELECT project, env, release, session, name AS flow,
        min(ts) AS first_ts, max(ts) AS last_ts, count() AS attempts, countIf(outcome != 'ok') AS failures,
        maxIf(ts, outcome != 'ok') AS last_failure${withNet(net)}
      FROM ${from} WHERE kind = 'flow'
      GROUP BY project, env, release, session, flow`
const health = (from: string, net = false) => `SELECT project, env, release, session,
        min(ts) AS first_ts, max(ts) AS last_ts,
        max((kind = 'error' AND handled = 0) OR (kind = 'session' AND outcome = 'crashed')) AS crashed,
        maxIf(ts, (kind = 'error' AND handled = 0) OR (kind = 'session' AND outcome = 'crashed')) AS last_crash${withNet(net)}
      FROM ${from}
      GROUP BY project, env, release, session`
const errors = (from: string, net = false) => `SELECT project, env, release, session, fingerprint,
        min(ts) AS first_ts, max(ts) AS last_ts, count() AS events, min(handled) AS handled,
        any(name) AS type, any(message) AS message, any(stack) AS stack${withNet(net)}
      FROM ${from} WHERE kind = 'error'
      GROUP BY project, env, release, session, fingerprint`

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'events, per-minute release rollup, projects, alerts',
    up: ({ table, view }) => [
      // Raw events, ordered by what every query filters on first. Time columns carry 'UTC'.
      // non_replicated_deduplication_window lets a replayed insert (same insert_deduplication_token)
      // be recognised and dropped.
      ...table(
        EVENTS,
        `
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
      `,
        { family: 'MergeTree' },
        `
      PARTITION BY toYYYYMMDD(ts)
      ORDER BY (project, env, release, kind, ts)
      TTL toDateTime(ts) + INTERVAL 30 DAY
      SETTINGS non_replicated_deduplication_window = 1000`,
        'sipHash64(session)',
      ),

      // Per-minute, per-release rollup. Read it with sum()/uniqMerge() and GROUP BY: merges are
      // never guaranteed, so a key can have several partial rows.
      ...table(
        RELEASE_MINUTE,
        `
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
      `,
        { family: 'AggregatingMergeTree' },
        `
      PARTITION BY toYYYYMMDD(minute)
      ORDER BY (project, env, release, minute, kind, name, outcome)
      TTL minute + INTERVAL 30 DAY
      SETTINGS non_replicated_deduplication_window = 1000`,
        'rand()',
      ),

      ...view(
        RELEASE_MINUTE_MV,
        RELEASE_MINUTE,
        EVENTS,
        (from) => `SELECT project, env, release, toStartOfMinute(ts) AS minute, kind, name, outcome,
        count() AS events, uniqState(session) AS sessions, min(ts) AS first_ts, max(ts) AS last_ts
      FROM ${from}
      GROUP BY project, env, release, minute, kind, name, outcome`,
      ),

      // Projects and their ingest keys. The newest row per id wins (read with FINAL).
      ...table(
        PROJECTS,
        `
        id String,
        name String,
        ingest_key String,
        created DateTime64(3, 'UTC'),
        updated DateTime64(3, 'UTC')
      `,
        { family: 'ReplacingMergeTree', args: 'updated' },
        `
      ORDER BY id`,
      ),

      // Alerts: one row per (project, dedup key), the newest version wins (read with FINAL).
      ...table(
        ALERTS,
        `
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
      `,
        { family: 'ReplacingMergeTree', args: 'updated' },
        `
      ORDER BY (project, dedup_key)`,
      ),
    ],
  },
  {
    version: 2,
    name: 'projects: allowed origins, key rotation, rate limit; events: route, browser, os, device',
    up: ({ alter }) => [
      ...alter(PROJECTS, 'ADD COLUMN IF NOT EXISTS origins Array(String)'),
      ...alter(PROJECTS, 'ADD COLUMN IF NOT EXISTS previous_key String'),
      ...alter(PROJECTS, "ADD COLUMN IF NOT EXISTS previous_key_until DateTime64(3, 'UTC')"),
      ...alter(PROJECTS, 'ADD COLUMN IF NOT EXISTS rate_limit UInt32'),
      ...alter(EVENTS, 'ADD COLUMN IF NOT EXISTS route LowCardinality(String)', { sharded: true }),
      ...alter(EVENTS, 'ADD COLUMN IF NOT EXISTS browser LowCardinality(String)', { sharded: true }),
      ...alter(EVENTS, 'ADD COLUMN IF NOT EXISTS os LowCardinality(String)', { sharded: true }),
      ...alter(EVENTS, 'ADD COLUMN IF NOT EXISTS device LowCardinality(String)', { sharded: true }),
    ],
  },
  {
    version: 3,
    name: 'per-session rollups for detection: flows, crash status, error groups',
    // The unit of detection is the session: these hold one row per (release, session, …) however
    // many events it sent, so a look of the detector reads sessions, not events. Each is fed by a
    // materialised view and back-filled from the events already stored.
    up: ({ table, view }) => {
      const dt = "DateTime64(3, 'UTC')"
      const key = `
        project LowCardinality(String),
        env LowCardinality(String),
        release LowCardinality(String),
        session String,`
      const tail = (order: string) => `
      PARTITION BY toYYYYMMDD(last_ts)
      ORDER BY (${order})
      TTL toDateTime(last_ts) + INTERVAL 30 DAY
      SETTINGS non_replicated_deduplication_window = 1000`
      return [
        ...table(
          SESSION_FLOWS,
          `${key}
        flow LowCardinality(String),
        first_ts SimpleAggregateFunction(min, ${dt}),
        last_ts SimpleAggregateFunction(max, ${dt}),
        attempts SimpleAggregateFunction(sum, UInt64),
        failures SimpleAggregateFunction(sum, UInt64),
        last_failure SimpleAggregateFunction(max, ${dt})
      `,
          { family: 'AggregatingMergeTree' },
          tail('project, env, release, flow, session'),
          'sipHash64(session)',
        ),
        ...table(
          SESSION_HEALTH,
          `${key}
        first_ts SimpleAggregateFunction(min, ${dt}),
        last_ts SimpleAggregateFunction(max, ${dt}),
        crashed SimpleAggregateFunction(max, UInt8),
        last_crash SimpleAggregateFunction(max, ${dt})
      `,
          { family: 'AggregatingMergeTree' },
          tail('project, env, release, session'),
          'sipHash64(session)',
        ),
        ...table(
          SESSION_ERRORS,
          `${key}
        fingerprint String,
        first_ts SimpleAggregateFunction(min, ${dt}),
        last_ts SimpleAggregateFunction(max, ${dt}),
        events SimpleAggregateFunction(sum, UInt64),
        handled SimpleAggregateFunction(min, UInt8),
        type SimpleAggregateFunction(any, String),
        message SimpleAggregateFunction(any, String),
        stack SimpleAggregateFunction(any, String)
      `,
          { family: 'AggregatingMergeTree' },
          tail('project, env, release, fingerprint, session'),
          'sipHash64(session)',
        ),
        ...view(`${SESSION_FLOWS}_mv`, SESSION_FLOWS, EVENTS, (from) => flows(from)),
        ...view(`${SESSION_HEALTH}_mv`, SESSION_HEALTH, EVENTS, (from) => health(from)),
        ...view(`${SESSION_ERRORS}_mv`, SESSION_ERRORS, EVENTS, (from) => errors(from)),
        // Events stored before this migration; those arriving meanwhile may be counted twice in
        // the rollup, which only makes a session's counts larger, never a session appear twice.
        `INSERT INTO ${SESSION_FLOWS} ${flows(EVENTS)}`,
        `INSERT INTO ${SESSION_HEALTH} ${health(EVENTS)}`,
        `INSERT INTO ${SESSION_ERRORS} ${errors(EVENTS)}`,
      ]
    },
  },
  {
    version: 4,
    name: 'alert deliveries: the notifiers outbox',
    // One row per (message, notifier); every attempt writes a newer version (read with FINAL).
    up: ({ table }) =>
      table(
        DELIVERIES,
        `
        id String,
        alert String,
        project String,
        notifier LowCardinality(String),
        type LowCardinality(String),
        message String,
        status LowCardinality(String),
        attempts UInt16,
        next_at DateTime64(3, 'UTC'),
        last_error String,
        created DateTime64(3, 'UTC'),
        updated DateTime64(3, 'UTC')
      `,
        { family: 'ReplacingMergeTree', args: 'updated' },
        `
      ORDER BY id
      TTL toDateTime(created) + INTERVAL 90 DAY`,
      ),
  },
  {
    version: 5,
    name: 'error groups stable across builds: the stack fingerprint, the releases each group was seen in; source maps; upload tokens',
    up: ({ table, view, alter }) => {
      const history = (from: string) => `SELECT project, env, fingerprint, stack_fingerprint, release,
        min(ts) AS first_ts, max(ts) AS last_ts, count() AS events
      FROM ${from} WHERE kind = 'error'
      GROUP BY project, env, fingerprint, stack_fingerprint, release`
      return [
        // The group as the (minified) stack gives it; `fingerprint` is the group, regrouped by the
        // original source when the release has source maps (grouping/fingerprint.ts).
        ...alter(EVENTS, 'ADD COLUMN IF NOT EXISTS stack_fingerprint String DEFAULT fingerprint', { sharded: true }),
        // Every release each error group was seen in: what "new in this release" is decided on.
        // One row per group and release, however many events.
        ...table(
          ERROR_RELEASES,
          `
        project LowCardinality(String),
        env LowCardinality(String),
        fingerprint String,
        stack_fingerprint String,
        release LowCardinality(String),
        first_ts SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
        last_ts SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
        events SimpleAggregateFunction(sum, UInt64)
      `,
          { family: 'AggregatingMergeTree' },
          `
      ORDER BY (project, env, fingerprint, stack_fingerprint, release)
      TTL toDateTime(last_ts) + INTERVAL 30 DAY
      SETTINGS non_replicated_deduplication_window = 1000`,
          'rand()',
        ),
        ...view(`${ERROR_RELEASES}_mv`, ERROR_RELEASES, EVENTS, history),
        `INSERT INTO ${ERROR_RELEASES} ${history(EVENTS)}`,
        // Source maps by project, release and the URL path of the minified file they map; the
        // newest upload of a file wins (read with FINAL). On a cluster, on every node.
        ...table(
          SOURCEMAPS,
          `
        project String,
        release String,
        path String,
        debug_id String,
        map String CODEC(ZSTD(3)),
        bytes UInt32,
        sources UInt32,
        uploaded DateTime64(3, 'UTC')
      `,
          { family: 'ReplacingMergeTree', args: 'uploaded' },
          `
      ORDER BY (project, release, path)
      TTL toDateTime(uploaded) + INTERVAL 90 DAY`,
        ),
        ...alter(PROJECTS, 'ADD COLUMN IF NOT EXISTS upload_token String'),
      ]
    },
  },
  {
    version: 6,
    name: 'error groups stored before version 5, under their new keys',
    up: () => [],
    data: (db) => regroupHistory(db, EVENTS, ERROR_RELEASES),
  },
  {
    version: 7,
    name: 'release rollup: when the collector first received each release (its order does not rest on client clocks)',
    // Rows stored before this take their first event's time. The view is made again with the
    // new column (the drainer inserts nothing while migrations run).
    up: ({ alter, dropView, view }) => [
      ...alter(RELEASE_MINUTE, "ADD COLUMN IF NOT EXISTS first_received SimpleAggregateFunction(min, DateTime64(3, 'UTC')) DEFAULT first_ts", { sharded: true }),
      ...dropView(RELEASE_MINUTE_MV),
      ...view(
        RELEASE_MINUTE_MV,
        RELEASE_MINUTE,
        EVENTS,
        (from) => `SELECT project, env, release, toStartOfMinute(ts) AS minute, kind, name, outcome,
        count() AS events, uniqState(session) AS sessions, min(ts) AS first_ts, max(ts) AS last_ts, min(received) AS first_received
      FROM ${from}
      GROUP BY project, env, release, minute, kind, name, outcome`,
      ),
    ],
  },
  {
    version: 8,
    name: "the client's network (a salted hash) on events and on the per-session rollups, so a failure's weight is bounded per network",
    // Rows stored before this have no network: each of their sessions stands on its own.
    up: ({ alter, dropView, view }) => [
      ...alter(EVENTS, 'ADD COLUMN IF NOT EXISTS net String', { sharded: true }),
      ...[SESSION_FLOWS, SESSION_HEALTH, SESSION_ERRORS].flatMap((t) => alter(t, 'ADD COLUMN IF NOT EXISTS net SimpleAggregateFunction(max, String)', { sharded: true })),
      ...([[SESSION_FLOWS, flows], [SESSION_HEALTH, health], [SESSION_ERRORS, errors]] as const).flatMap(([t, select]) => [
        ...dropView(`${t}_mv`),
        ...view(`${t}_mv`, t, EVENTS, (from) => select(from, true)),
      ]),
    ],
  },
]

export const migrationsTable = ({ table }: SchemaContext): string[] =>
  table(
    MIGRATIONS,
    `
    version UInt32,
    name String,
    applied DateTime64(3, 'UTC')
  `,
    { family: 'ReplacingMergeTree', args: 'applied' },
    `
  ORDER BY version`,
  )
