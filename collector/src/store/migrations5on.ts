import { regroupHistory } from './regroupHistory.js'
import { errors, flows, health, spans, statsByDay, statsByHour, statsByMinute, VITAL_SAMPLE, vitals, VITALS_PER_SESSION } from './rollupViews.js'
import type { Migration, SchemaContext } from './schemaContext.js'
import { sessionRollupTable } from './sessionRollupTable.js'
import { ALERTS, ERROR_RELEASES, flowKindEnum, kindEnum, RELEASE_SPANS, RELEASE_STATS_DAY, RELEASE_STATS_HOUR, RELEASE_STATS_MINUTE, EVENTS, PROJECTS, RELEASE_MINUTE, RELEASE_MINUTE_MV, SESSION_ERRORS, SESSION_FLOWS, SESSION_HEALTH, SESSION_VITALS, SOURCEMAPS } from './tables.js'

/** A per-release stats rollup (migrations 10 and 11): by minute, hour or day. */
const statsTable = (table: SchemaContext['table'], name: string, partition: string) =>
  table(
    name,
    `
        project LowCardinality(String),
        env LowCardinality(String),
        release LowCardinality(String),
        bucket DateTime('UTC'),
        kind ${kindEnum},
        name LowCardinality(String),
        sessions AggregateFunction(uniq, String),
        failed AggregateFunction(uniq, String),
        events SimpleAggregateFunction(sum, UInt64),
        failures SimpleAggregateFunction(sum, UInt64),
        p75 AggregateFunction(quantile(0.75), Float64)
      `,
    { family: 'AggregatingMergeTree' },
    `
      PARTITION BY ${partition}
      ORDER BY (project, env, release, bucket, kind, name)
      TTL bucket + INTERVAL 30 DAY
      SETTINGS non_replicated_deduplication_window = 1000`,
    'rand()',
  )

/** Migrations 5 on: error groups across builds, source maps, the release order, client networks, alert episodes (see schema.ts). */
export const migrations5on: Migration[] = [
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
  {
    version: 9,
    name: "alerts: the episode (how many times the alert fired), so every detector names a firing's messages alike",
    // Alerts stored before this are episode 0: their messages keep the ids they had.
    up: ({ alter }) => alter(ALERTS, 'ADD COLUMN IF NOT EXISTS episode UInt32 DEFAULT 0'),
  },
  {
    version: 10,
    name: 'per-release rollups the pages read: per minute and per hour (sessions, failed, events, vitals p75), and each release\'s span',
    // The pages' reads then cost buckets × releases, not events or sessions, however long the
    // history. Back-filled from the events already stored (those arriving meanwhile may count
    // twice in `events`; a session never does).
    up: ({ table, view }) => {
      const dt = "DateTime64(3, 'UTC')"
      return [
        ...statsTable(table, RELEASE_STATS_MINUTE, 'toYYYYMMDD(bucket)'),
        ...statsTable(table, RELEASE_STATS_HOUR, 'toYYYYMM(bucket)'),
        ...table(
          RELEASE_SPANS,
          `
        project LowCardinality(String),
        env LowCardinality(String),
        release LowCardinality(String),
        first_received SimpleAggregateFunction(min, ${dt}),
        first_ts SimpleAggregateFunction(min, ${dt}),
        last_ts SimpleAggregateFunction(max, ${dt})
      `,
          { family: 'AggregatingMergeTree' },
          `
      ORDER BY (project, env, release)
      TTL toDateTime(last_ts) + INTERVAL 30 DAY
      SETTINGS non_replicated_deduplication_window = 1000`,
          'rand()',
        ),
        ...view(`${RELEASE_STATS_MINUTE}_mv`, RELEASE_STATS_MINUTE, EVENTS, statsByMinute),
        ...view(`${RELEASE_STATS_HOUR}_mv`, RELEASE_STATS_HOUR, RELEASE_STATS_MINUTE, statsByHour),
        ...view(`${RELEASE_SPANS}_mv`, RELEASE_SPANS, EVENTS, spans),
        `INSERT INTO ${RELEASE_STATS_MINUTE} ${statsByMinute(EVENTS)}`,
        `INSERT INTO ${RELEASE_SPANS} ${spans(EVENTS)}`,
      ]
    },
  },
  {
    version: 11,
    name: 'per-release rollup by day, fed from the hourly one',
    // A week's page then merges seven days (and the hours and minutes at its edges) instead of
    // 168 hours. Back-filled from the hourly rollup (rows arriving meanwhile may count twice in
    // `events`, as in migration 10; a session never does).
    up: ({ table, view }) => [
      ...statsTable(table, RELEASE_STATS_DAY, 'toYYYYMM(bucket)'),
      ...view(`${RELEASE_STATS_DAY}_mv`, RELEASE_STATS_DAY, RELEASE_STATS_HOUR, statsByDay),
      `INSERT INTO ${RELEASE_STATS_DAY} ${statsByDay(RELEASE_STATS_HOUR)}`,
    ],
  },
  {
    version: 12,
    name: 'the per-session rollups: when ClickHouse stored each row, so a look reads only the sessions stored since the last',
    // Rows stored before this say 1970: a detector's first look reads every session of its
    // window anyway. The views are made again with the new column, as in migration 8.
    up: ({ alter, dropView, view }) => [
      ...[SESSION_FLOWS, SESSION_HEALTH, SESSION_ERRORS].flatMap((t) => [
        ...alter(t, "ADD COLUMN IF NOT EXISTS inserted SimpleAggregateFunction(max, DateTime64(3, 'UTC'))", { sharded: true }),
        // Parts and granules stored before a look's mark are skipped whole.
        ...alter(t, 'ADD INDEX IF NOT EXISTS inserted_minmax inserted TYPE minmax GRANULARITY 1', { sharded: true, localOnly: true }),
      ]),
      ...([[SESSION_FLOWS, flows], [SESSION_HEALTH, health], [SESSION_ERRORS, errors]] as const).flatMap(([t, select]) => [
        ...dropView(`${t}_mv`),
        ...view(`${t}_mv`, t, EVENTS, (from) => select(from, true, true)),
      ]),
    ],
  },
  {
    version: 13,
    name: 'per-session rollup of web vitals: each sample, so a look judges them in memory from what arrived, not from the events of its window',
    // One row per session (however many of its events' batches), as the other per-session
    // rollups; back-filled from the events already stored (those arriving meanwhile may be kept
    // twice in a session's samples).
    up: ({ table, view, alter }) => {
      const dt = "DateTime64(3, 'UTC')"
      return [
        ...sessionRollupTable(table, SESSION_VITALS, {
          columns: [`inserted SimpleAggregateFunction(max, ${dt})`, `samples AggregateFunction(groupArraySorted(${VITALS_PER_SESSION}), ${VITAL_SAMPLE})`],
        }),
        ...alter(SESSION_VITALS, 'ADD INDEX IF NOT EXISTS inserted_minmax inserted TYPE minmax GRANULARITY 1', { sharded: true, localOnly: true }),
        ...view(`${SESSION_VITALS}_mv`, SESSION_VITALS, EVENTS, vitals),
        `INSERT INTO ${SESSION_VITALS} ${vitals(EVENTS)}`,
      ]
    },
  },
  {
    version: 14,
    name: "requests, flags and tags: kinds of event for an endpoint's calls (judged per session as flows are, in the flows rollup by kind), a session's feature-flag variants and its tags",
    // Adding an enum value is a change of metadata only; every table that copies `kind` takes it
    // first, so no view's insert meets a value its table cannot hold. The flows rollup gets its
    // `kind` at the end of its sorting key (rows stored before are flows, the enum's first value)
    // and its view is made again with it; the pages' minute rollup's view counts failed requests.
    up: ({ alter, dropView, view }) => {
      const sorted = 'project, env, release, flow, session, kind'
      return [
        ...[EVENTS, RELEASE_MINUTE, RELEASE_STATS_MINUTE, RELEASE_STATS_HOUR, RELEASE_STATS_DAY].flatMap((t) => alter(t, `MODIFY COLUMN kind ${kindEnum}`, { sharded: true })),
        ...alter(SESSION_FLOWS, `ADD COLUMN IF NOT EXISTS kind ${flowKindEnum}, MODIFY ORDER BY (${sorted})`, {
          sharded: true,
          distributed: `ADD COLUMN IF NOT EXISTS kind ${flowKindEnum}`,
        }),
        ...dropView(`${SESSION_FLOWS}_mv`),
        ...view(`${SESSION_FLOWS}_mv`, SESSION_FLOWS, EVENTS, (from) => flows(from, true, true, true)),
        ...dropView(`${RELEASE_STATS_MINUTE}_mv`),
        ...view(`${RELEASE_STATS_MINUTE}_mv`, RELEASE_STATS_MINUTE, EVENTS, statsByMinute),
      ]
    },
  },
]
