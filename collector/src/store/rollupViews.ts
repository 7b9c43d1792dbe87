/**
 * The per-session rollups' views (migration 3), since migration 8 with the client's network
 * (`net`, the largest value a session's events carry: '' only when none has one), and since
 * migration 12 with when ClickHouse stored the row (`inserted`: what a look reads anew).
 */
/** A crash: an unhandled error, or a session that says it crashed. */
export const CRASHED = "(kind = 'error' AND handled = 0) OR (kind = 'session' AND outcome = 'crashed')"
const withNet = (net: boolean, inserted = false) => (net ? ', max(net) AS net' : '') + (inserted ? ", now64(3, 'UTC') AS inserted" : '')
/**
 * A session's runs of each flow; since migration 14 (`kinds`) also its calls to each endpoint, as
 * kind 'request': a request row that is ok stands for `value` calls (the agent counts them), a
 * failed one for one call.
 */
export const flows = (from: string, net = false, inserted = false, kinds = false) =>
  kinds
    ? // The table takes the name as its enum's: never a CAST of `kind` itself, which ClickHouse may
      // compute for rows the WHERE then drops (a session's start would fail every insert). The
      // WHERE names the table's `kind` (`e.kind`): plain `kind` there would be the alias.
      `SELECT project, env, release, session, name AS flow, if(kind = 'request', 'request', 'flow') AS kind,
        min(ts) AS first_ts, max(ts) AS last_ts, sum(${CALLS}) AS attempts, countIf(outcome != 'ok') AS failures,
        maxIf(ts, outcome != 'ok') AS last_failure${withNet(net, inserted)}
      FROM ${from} AS e WHERE e.kind IN ('flow', 'request')
      GROUP BY project, env, release, session, flow, kind`
    : `SELECT project, env, release, session, name AS flow,
        min(ts) AS first_ts, max(ts) AS last_ts, count() AS attempts, countIf(outcome != 'ok') AS failures,
        maxIf(ts, outcome != 'ok') AS last_failure${withNet(net, inserted)}
      FROM ${from} WHERE kind = 'flow'
      GROUP BY project, env, release, session, flow`
/** How many calls or runs an event stands for: a request that went well, as many as the agent counted. */
export const CALLS = "if(kind = 'request' AND outcome = 'ok', toUInt64(greatest(value, 1)), 1)"
export const health = (from: string, net = false, inserted = false) => `SELECT project, env, release, session,
        min(ts) AS first_ts, max(ts) AS last_ts,
        max(${CRASHED}) AS crashed,
        maxIf(ts, ${CRASHED}) AS last_crash${withNet(net, inserted)}
      FROM ${from}
      GROUP BY project, env, release, session`
export const errors = (from: string, net = false, inserted = false) => `SELECT project, env, release, session, fingerprint,
        min(ts) AS first_ts, max(ts) AS last_ts, count() AS events, min(handled) AS handled,
        any(name) AS type, any(message) AS message, any(stack) AS stack${withNet(net, inserted)}
      FROM ${from} WHERE kind = 'error'
      GROUP BY project, env, release, session, fingerprint`
/**
 * A session's variant of each feature flag (migration 15): the last it said (`vigil.flag`), by
 * its time. The CAST only makes the state's type a plain String's; it cannot fail on a row the
 * WHERE drops.
 */
export const flags = (from: string) => `SELECT project, env, release, session, CAST(name AS String) AS flag,
        min(ts) AS first_ts, max(ts) AS last_ts, max(net) AS net,
        argMaxState(CAST(outcome AS String), ts) AS variant
      FROM ${from} AS e WHERE e.kind = 'flag'
      GROUP BY project, env, release, session, flag`
/** The most web-vital samples kept of one session (a page load sends five): a sender cannot grow a session's row without end. */
export const VITALS_PER_SESSION = 500
/** A sample as the per-session vitals rollup keeps it: its time negated (the smallest kept are the newest), its vital's name, its value. */
export const VITAL_SAMPLE = 'Tuple(Int64, String, Float64)'
/** A session's samples merged (`samples`, its rows' states): its newest VITALS_PER_SESSION. */
export const MERGED_SAMPLES = `groupArraySortedMerge(${VITALS_PER_SESSION})(samples)`
/** Of a merged sample `x`: its time (epoch ms), its vital's name, its value. */
export const sampleParts = (x: string) => ({ ms: `-${x}.1`, name: `${x}.2`, value: `${x}.3` })
/**
 * A session's web vitals (migration 13), each sample whole — its newest VITALS_PER_SESSION, however
 * its rows are merged: a look judges them in memory (detector/vitalMemory.ts).
 */
export const vitals = (from: string) => `SELECT project, env, release, session,
        min(ts) AS first_ts, max(ts) AS last_ts, max(net) AS net, now64(3, 'UTC') AS inserted,
        groupArraySortedState(${VITALS_PER_SESSION})((-toUnixTimestamp64Milli(ts), CAST(name AS String), value)) AS samples
      FROM ${from} WHERE kind = 'vital'
      GROUP BY project, env, release, session`

/**
 * The pages' rollup (migration 10), per release, minute, kind and name: the sessions with such an
 * event, those of them that failed (a flow not ok) or crashed (an unhandled error, a session that
 * says it crashed), how many events and failed flows, and the vitals' p75. Its hourly twin is fed
 * from it; both are read with the -Merge functions, GROUP BY, over whole buckets.
 */
export const FAILED = `(kind IN ('flow', 'request') AND outcome != 'ok') OR ${CRASHED}`
/** Of a rollup row's `failed`: crashed sessions, not failed flows or requests. */
export const CRASH_KINDS = "kind IN ('error', 'session')"
/** The pages' rollups' columns, each as events give it (the minute rollup's view; the pages' reads of a range's part-minutes). */
export const STATS = {
  sessions: 'uniqState(session)',
  failed: `uniqStateIf(session, ${FAILED})`,
  events: 'count()',
  failures: "countIf(kind IN ('flow', 'request') AND outcome != 'ok')",
  p75: "quantileStateIf(0.75)(value, kind = 'vital')",
}
export type Stat = keyof typeof STATS
/** Those of `columns`, `expression AS column`. */
export const statsOfEvents = (columns: Stat[]) => columns.map((c) => `${STATS[c]} AS ${c}`).join(', ')
export const statsByMinute = (from: string) => `SELECT project, env, release, toStartOfMinute(ts) AS bucket, kind, name,
        ${statsOfEvents(['sessions', 'failed', 'events', 'failures', 'p75'])}
      FROM ${from}
      GROUP BY project, env, release, bucket, kind, name`
/** The hourly and daily rollups, each fed from the one a step finer (`bucket` the minute's, the hour's). */
const rollUp = (startOf: string) => (from: string) => `SELECT m.project AS project, m.env AS env, m.release AS release,
        ${startOf}(m.bucket) AS bucket, m.kind AS kind, m.name AS name,
        uniqMergeState(m.sessions) AS sessions, uniqMergeState(m.failed) AS failed,
        sum(m.events) AS events, sum(m.failures) AS failures, quantileMergeState(0.75)(m.p75) AS p75
      FROM ${from} AS m
      GROUP BY project, env, release, bucket, kind, name`
export const statsByHour = rollUp('toStartOfHour')
export const statsByDay = rollUp('toStartOfDay')
/**
 * The client an event came through, by its batch id: Sentry's SDKs and OpenTelemetry's exporters
 * get ids of their own at intake (ingest/sentry, ingest/otlp; `/v1/ingest` refuses such ids);
 * every other batch is the agent's, or a client of the wire format.
 */
export const CLIENT = "multiIf(startsWith(batch, 'sentry:'), 'sentry', startsWith(batch, 'otlp:'), 'otlp', 'vigil')"

/** Per release, hour and client: events and sessions (migration 17), for the page's "data from". */
export const clients = (from: string) => `SELECT project, env, release, toStartOfHour(ts) AS hour, ${CLIENT} AS client,
        count() AS events, uniqState(session) AS sessions, max(ts) AS last_ts
      FROM ${from}
      GROUP BY project, env, release, hour, client`

/** Each release's span (migration 10): when the collector first received it, its first and last event. */
export const spans = (from: string) => `SELECT project, env, release,
        min(received) AS first_received, min(ts) AS first_ts, max(ts) AS last_ts
      FROM ${from}
      GROUP BY project, env, release`
