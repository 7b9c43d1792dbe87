import { clients, flags } from './rollupViews.js'
import type { Migration } from './schemaContext.js'
import { sessionRollupTable } from './sessionRollupTable.js'
import { ALERTS, EVENTS, PROJECTS, RELEASE_CLIENTS, SESSION_FLAGS } from './tables.js'

/** The migrations from 15 on (append here). */
export const migrations15on: Migration[] = [
  {
    version: 15,
    name: "feature-flag cohorts: each session's variant of each flag (the last it said), and the cohort an alert is about",
    // One row per session and flag, as the other per-session rollups; back-filled from the flag
    // events already stored (migration 14 began storing them). Alerts stored before are about
    // their whole release (cohort '').
    up: ({ table, view, alter }) => [
      ...sessionRollupTable(table, SESSION_FLAGS, { keys: [['flag', 'String']], columns: ["variant AggregateFunction(argMax, String, DateTime64(3, 'UTC'))"] }),
      ...view(`${SESSION_FLAGS}_mv`, SESSION_FLAGS, EVENTS, flags),
      `INSERT INTO ${SESSION_FLAGS} ${flags(EVENTS)}`,
      ...alter(ALERTS, "ADD COLUMN IF NOT EXISTS cohort String DEFAULT ''"),
    ],
  },
  {
    version: 16,
    name: 'the transactions and spans a project takes as flows (Sentry, OpenTelemetry)',
    up: ({ alter }) => [...alter(PROJECTS, 'ADD COLUMN IF NOT EXISTS transaction_flows Map(String, String)')],
  },
  {
    version: 17,
    name: "each release's events and sessions per client (the agent, Sentry, OpenTelemetry) and hour",
    // Back-filled from the events stored before (all the agent's). As migrations 10 and 11: events
    // arriving between the view's creation and the back-fill are counted twice in it (a display
    // line's counts, for those seconds' events).
    up: ({ table, view }) => [
      ...table(
        RELEASE_CLIENTS,
        `
        project LowCardinality(String),
        env LowCardinality(String),
        release LowCardinality(String),
        hour DateTime('UTC'),
        client LowCardinality(String),
        events SimpleAggregateFunction(sum, UInt64),
        sessions AggregateFunction(uniq, String),
        last_ts SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
      `,
        { family: 'AggregatingMergeTree' },
        `
      ORDER BY (project, env, release, hour, client)
      TTL toDateTime(last_ts) + INTERVAL 30 DAY
      SETTINGS non_replicated_deduplication_window = 1000`,
        'rand()',
      ),
      ...view(`${RELEASE_CLIENTS}_mv`, RELEASE_CLIENTS, EVENTS, clients),
      `INSERT INTO ${RELEASE_CLIENTS} ${clients(EVENTS)}`,
    ],
  },
]
