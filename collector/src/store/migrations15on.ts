import { flags } from './rollupViews.js'
import type { Migration } from './schemaContext.js'
import { sessionRollupTable } from './sessionRollupTable.js'
import { ALERTS, EVENTS, PROJECTS, SESSION_FLAGS } from './tables.js'

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
]
