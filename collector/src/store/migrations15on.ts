import { flags } from './rollupViews.js'
import type { Migration } from './schemaContext.js'
import { ALERTS, EVENTS, SESSION_FLAGS } from './tables.js'

/** The migrations from 15 on (append here). */
export const migrations15on: Migration[] = [
  {
    version: 15,
    name: "feature-flag cohorts: each session's variant of each flag (the last it said), and the cohort an alert is about",
    // One row per session and flag, as the other per-session rollups; back-filled from the flag
    // events already stored (migration 14 began storing them). Alerts stored before are about
    // their whole release (cohort '').
    up: ({ table, view, alter }) => {
      const dt = "DateTime64(3, 'UTC')"
      return [
        ...table(
          SESSION_FLAGS,
          `
        project LowCardinality(String),
        env LowCardinality(String),
        release LowCardinality(String),
        session String,
        flag String,
        first_ts SimpleAggregateFunction(min, ${dt}),
        last_ts SimpleAggregateFunction(max, ${dt}),
        net SimpleAggregateFunction(max, String),
        variant AggregateFunction(argMax, String, ${dt})
      `,
          { family: 'AggregatingMergeTree' },
          `
      PARTITION BY toYYYYMMDD(last_ts)
      ORDER BY (project, env, release, session, flag)
      TTL toDateTime(last_ts) + INTERVAL 30 DAY
      SETTINGS non_replicated_deduplication_window = 1000`,
          'sipHash64(session)',
        ),
        ...view(`${SESSION_FLAGS}_mv`, SESSION_FLAGS, EVENTS, flags),
        `INSERT INTO ${SESSION_FLAGS} ${flags(EVENTS)}`,
        ...alter(ALERTS, "ADD COLUMN IF NOT EXISTS cohort String DEFAULT ''"),
      ]
    },
  },
]
