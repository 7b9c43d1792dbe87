/** The tables, by name: SQL names a table only through these constants. */

export const EVENTS = 'events'
export const RELEASE_MINUTE = 'release_minute'
export const RELEASE_MINUTE_MV = 'release_minute_mv'
export const SESSION_FLOWS = 'session_flows'
export const SESSION_HEALTH = 'session_health'
export const SESSION_ERRORS = 'session_errors'
export const SESSION_VITALS = 'session_vitals'
export const SESSION_FLAGS = 'session_flags'
export const DELIVERIES = 'alert_deliveries'
export const PROJECTS = 'projects'
export const ALERTS = 'alerts'
export const MIGRATIONS = 'vigil_migrations'
export const ERROR_RELEASES = 'error_releases'
export const SOURCEMAPS = 'sourcemaps'
export const RELEASE_STATS_MINUTE = 'release_stats_minute'
export const RELEASE_STATS_HOUR = 'release_stats_hour'
export const RELEASE_STATS_DAY = 'release_stats_day'
export const RELEASE_SPANS = 'release_spans'
export const RELEASE_CLIENTS = 'release_clients'

/** Kinds of event, as stored. The order is part of the schema (Enum8 values). */
export const KINDS = ['error', 'flow', 'session', 'vital', 'request', 'flag', 'tag'] as const
export type Kind = (typeof KINDS)[number]
/** The `kind` column's type. */
export const kindEnum = `Enum8(${KINDS.map((k, i) => `'${k}' = ${i + 1}`).join(', ')})`
/** The per-session flows rollup's `kind` (migration 14): flows and requests (an endpoint's calls), 'flow' the default of rows stored before. */
export const FLOW_KINDS = ['flow', 'request'] as const
export type FlowKind = (typeof FLOW_KINDS)[number]
export const flowKindEnum = `Enum8(${FLOW_KINDS.map((k) => `'${k}' = ${KINDS.indexOf(k) + 1}`).join(', ')})`
