import { errors, flows, health } from './rollupViews.js'
import type { Migration, SchemaContext } from './schemaContext.js'
import { ALERTS, DELIVERIES, EVENTS, kindEnum, PROJECTS, RELEASE_MINUTE, RELEASE_MINUTE_MV, SESSION_ERRORS, SESSION_FLOWS, SESSION_HEALTH } from './tables.js'

/** Migration 1's raw events. */
const events = ({ table }: SchemaContext): string[] => [
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
]

/** Migration 1's per-minute release rollup, and the view that feeds it. */
const minutes = ({ table, view }: SchemaContext): string[] => [
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
]

/** Migration 1's projects and alerts. */
const projectsAndAlerts = ({ table }: SchemaContext): string[] => [
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
]

/** Migrations 1 to 4: events and their rollups, projects, alerts and their deliveries (see schema.ts). */
export const migrations1to4: Migration[] = [
  {
    version: 1,
    name: 'events, per-minute release rollup, projects, alerts',
    up: (ctx) => [...events(ctx), ...minutes(ctx), ...projectsAndAlerts(ctx)],
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
]
