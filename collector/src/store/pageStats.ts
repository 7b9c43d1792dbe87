/**
 * The pages' numbers from the per-release rollups (migrations 10 and 11): whole days inside a
 * range, whole hours and minutes around them and the events of the part-minutes at its edges, so
 * a read costs releases × buckets (and a minute of events at most per edge) — not the events or
 * sessions of the range — for a week as for fifteen minutes, however long the history.
 * Distinct sessions are `uniq` states: exact up to tens of thousands of sessions per release and
 * range, within about 1% beyond (test/integration/rollups.test.ts bounds it against the events).
 * A session counts in a range when it has an event in it.
 */
import type { Db } from './connection.js'
import { APPEARED, RELEASE } from './judgingSql.js'
import { CRASH_KINDS, statsOfEvents, type Stat } from './rollupViews.js'
import { EVENTS, RELEASE_SPANS, RELEASE_STATS_DAY, RELEASE_STATS_HOUR, RELEASE_STATS_MINUTE } from './tables.js'
import type { FlowKind } from './tables.js'
import type { FlowBaselineRow, FlowStep, ReleaseSpan } from './types.js'

const MINUTE = 60_000
const HOUR = 3600_000
const DAY = 24 * HOUR
const floorTo = (ms: number, unit: number) => Math.floor(ms / unit) * unit
const ceilTo = (ms: number, unit: number) => Math.ceil(ms / unit) * unit
const seconds = (ms: number) => Math.floor(ms / 1000)

/**
 * How [start, to] is read, for each of `starts` (epoch ms): whole days [d0, d1) from the daily
 * rollup; whole hours [h0, h1) outside them from the hourly one (and those of the days in
 * `dayEdges`, where a later start falls mid-day); whole minutes [m0, m1) outside the hours from
 * the minute rollup (and those of the hours in `hourEdges`, where a later start falls mid-hour);
 * and the events themselves in each start's first part-minute and in `to`'s last one — so the
 * numbers are exact to the millisecond, as the per-session reads were, at the cost of at most a
 * minute of events per edge.
 */
const bucketsOf = (all: number[], to: number) => {
  const starts = [...new Set(all)]
  const from = Math.min(...starts)
  const m0 = ceilTo(from, MINUTE)
  const m1 = Math.max(m0, floorTo(to, MINUTE))
  const h0 = ceilTo(from, HOUR)
  const h1 = Math.max(h0, floorTo(m1, HOUR))
  const d0 = ceilTo(from, DAY)
  const d1 = Math.max(d0, floorTo(h1, DAY))
  const edges = (lo: number, hi: number, unit: number) => starts.filter((s) => s % unit !== 0 && s >= lo && s < hi).map((s) => seconds(floorTo(s, unit)))
  return {
    m0: seconds(m0),
    m1: seconds(m1),
    h0: seconds(h0),
    h1: seconds(h1),
    d0: seconds(d0),
    d1: seconds(d1),
    hourEdges: edges(h0, h1, HOUR),
    dayEdges: edges(d0, d1, DAY),
    rawFrom: starts,
    rawTo: starts.map((s) => Math.min(ceilTo(s, MINUTE), to)),
    tailFrom: Math.min(Math.max(m1, from), to),
    to,
  }
}

const time = (name: string) => `toDateTime({${name}:UInt32}, 'UTC')`
const ms = (param: string) => `fromUnixTimestamp64Milli(${param}, 'UTC')`
/**
 * The events bucketsOf leaves to be read as they are: each start's part-minute and the tail, one
 * time range each (by index into the parameters, so the ranges reach the primary key and the
 * partitions, and no value enters the SQL).
 */
const rawWindows = (n: number) =>
  [
    ...Array.from({ length: n }, (_, i) => `(ts >= ${ms(`{rawFrom:Array(Int64)}[${i + 1}]`)} AND ts < ${ms(`{rawTo:Array(Int64)}[${i + 1}]`)})`),
    `(ts >= ${ms('{tailFrom:Int64}')} AND ts <= ${ms('{to:Int64}')})`,
  ].join(' OR ')

/**
 * A rollup's buckets (granularity `g`) in [`lo`, `hi`), but for those the coarser tier holds
 * ([`coarseLo`, `coarseHi`) outside the `edges` a later start falls in the middle of: `startOf`).
 */
const tier = (p: { table: string; g: number; lo: string; hi: string; coarse?: { lo: string; hi: string; edges: string; startOf: string } }, where: string, states: Stat[]) => {
  const { coarse } = p
  const outside = coarse
    ? `
          AND (bucket < ${time(coarse.lo)} OR bucket >= ${time(coarse.hi)} OR has({${coarse.edges}:Array(UInt32)}, toUInt32(${coarse.startOf}(bucket))))`
    : ''
  return `
        SELECT release, kind, name, toDateTime64(bucket, 3, 'UTC') AS at, ${p.g} AS g, ${states.join(', ')} FROM ${p.table}
        WHERE project = {project:String} AND env = {env:String} AND bucket >= ${time(p.lo)} AND bucket < ${time(p.hi)}${outside}${where}`
}

/**
 * The rows of an environment over the buckets of bucketsOf, each with `at` (its bucket's start, or
 * the event's time) and its granularity `g` (3: a day, 2: an hour, 1: a minute, 0: an event), and
 * only the `states` asked for (a state read is a state deserialised). `where`: more conditions on
 * every row (kind, release).
 */
const statsOf = (edges: number, where: string, states: Stat[]) => `(${tier({ table: RELEASE_STATS_DAY, g: 3, lo: 'd0', hi: 'd1' }, where, states)}
        UNION ALL${tier({ table: RELEASE_STATS_HOUR, g: 2, lo: 'h0', hi: 'h1', coarse: { lo: 'd0', hi: 'd1', edges: 'dayEdges', startOf: 'toStartOfDay' } }, where, states)}
        UNION ALL${tier({ table: RELEASE_STATS_MINUTE, g: 1, lo: 'm0', hi: 'm1', coarse: { lo: 'h0', hi: 'h1', edges: 'hourEdges', startOf: 'toStartOfHour' } }, where, states)}
        UNION ALL
        SELECT release, kind, name, ts AS at, 0 AS g, ${statsOfEvents(states)}
        FROM ${EVENTS}
        WHERE project = {project:String} AND env = {env:String}
          AND (${rawWindows(edges)})${where}
        GROUP BY release, kind, name, at
      )`

export type ReleaseSessions = { release: string; sessions: number; crashed: number }
/** A release's flow, or endpoint (`kind` request: `attempts` counts its events there, not its calls). */
export type ReleaseFlow = { release: string; kind: FlowKind; flow: string; sessions: number; failed: number; attempts: number; failures: number }
export type ReleaseVital = { release: string; name: string; p75: number; samples: number }

/** Each release's sessions in [from, to] and those that crashed in it (an unhandled error, or said so). */
const sessionsOf = (db: Db) => (project: string, env: string, from: number, to: number) =>
  db.rows<ReleaseSessions>(
    `SELECT release, uniqMerge(sessions) AS sessions, uniqMergeIf(failed, ${CRASH_KINDS}) AS crashed
      FROM ${statsOf(1, '', ['sessions', 'failed'])}
      GROUP BY release`,
    { project, env, ...bucketsOf([from], to) },
  )

/** Each release's flows, endpoints (its requests) and vitals in [from, to] (one release's with `release`). */
const flowsAndVitalsOf = (db: Db) => async (project: string, env: string, from: number, to: number, release = '') => {
  const rows = await db.rows<{ release: string; kind: FlowKind | 'vital'; name: string; sessions: number; failed: number; events: number; failures: number; p75: number }>(
    // Flows and vitals apart: a flow's sessions and a vital's p75 are the states read.
    `SELECT release, kind, name, uniqMerge(sessions) AS sessions, uniqMerge(failed) AS failed, sum(events) AS events, sum(failures) AS failures, 0 AS p75
      FROM ${statsOf(1, ` AND kind IN ('flow', 'request') AND ${RELEASE}`, ['sessions', 'failed', 'events', 'failures'])}
      GROUP BY release, kind, name
      UNION ALL
      SELECT release, kind, name, 0, 0, sum(events), 0, quantileMerge(0.75)(p75)
      FROM ${statsOf(1, ` AND kind = 'vital' AND ${RELEASE}`, ['events', 'p75'])}
      GROUP BY release, kind, name`,
    { project, env, release, ...bucketsOf([from], to) },
  )
  return {
    flows: rows.flatMap((r): ReleaseFlow[] => (r.kind === 'vital' ? [] : [{ release: r.release, kind: r.kind, flow: r.name, sessions: r.sessions, failed: r.failed, attempts: r.events, failures: r.failures }])),
    vitals: rows.filter((r) => r.kind === 'vital').map((r): ReleaseVital => ({ release: r.release, name: r.name, p75: r.p75, samples: r.events })),
  }
}

/**
 * Each target's concurrent baseline per flow and endpoint (baseline.ts): the sessions of the `releases` that
 * arrived before it that ran the flow from its `since` (taken from that minute) to `to`, pooled,
 * and those of them that failed it then.
 */
const flowBaselinesOf =
  (db: Db) =>
  async (project: string, env: string, targets: { release: string; arrived: number; since: number }[], releases: { release: string; arrived: number }[], to: number) => {
    if (targets.length === 0) return []
    const starts = targets.map((t) => t.since)
    const buckets = bucketsOf(starts, to)
    return db.rows<FlowBaselineRow>(
      `SELECT {names:Array(String)}[i] AS target, s.kind AS kind, s.name AS flow, uniqMerge(s.sessions) AS sessions, uniqMerge(s.failed) AS failed,
        groupUniqArray(5)(s.release) AS releases, uniqExact(s.release) AS release_count
      FROM ${statsOf(buckets.rawFrom.length, " AND kind IN ('flow', 'request') AND has({all:Array(String)}, release)", ['sessions', 'failed'])} AS s
      ARRAY JOIN arrayEnumerate({names:Array(String)}) AS i
      WHERE {arrivals:Array(Int64)}[indexOf({all:Array(String)}, s.release)] < {targetArrivals:Array(Int64)}[i]
        -- What of each row is this target's: days from its first whole day, hours from its first
        -- whole hour to that day, minutes from its first whole minute to that hour, events from
        -- its start to that minute (and, past the whole days, hours and minutes, the rest).
        AND multiIf(
          s.g = 3, s.at >= fromUnixTimestamp64Milli({dayStarts:Array(Int64)}[i], 'UTC'),
          s.g = 2, s.at >= fromUnixTimestamp64Milli({hourStarts:Array(Int64)}[i], 'UTC')
            AND (s.at < fromUnixTimestamp64Milli({dayStarts:Array(Int64)}[i], 'UTC') OR s.at >= ${time('d1')}),
          s.g = 1, s.at >= fromUnixTimestamp64Milli({minuteStarts:Array(Int64)}[i], 'UTC')
            AND (s.at < fromUnixTimestamp64Milli({hourStarts:Array(Int64)}[i], 'UTC') OR s.at >= ${time('h1')}),
          s.at >= fromUnixTimestamp64Milli({starts:Array(Int64)}[i], 'UTC')
            AND (s.at < fromUnixTimestamp64Milli({minuteStarts:Array(Int64)}[i], 'UTC') OR s.at >= fromUnixTimestamp64Milli({tailFrom:Int64}, 'UTC')))
      GROUP BY target, kind, flow`,
      {
        project,
        env,
        ...buckets,
        names: targets.map((t) => t.release),
        targetArrivals: targets.map((t) => t.arrived),
        starts,
        minuteStarts: starts.map((s) => ceilTo(s, MINUTE)),
        hourStarts: starts.map((s) => ceilTo(s, HOUR)),
        dayStarts: starts.map((s) => ceilTo(s, DAY)),
        all: releases.map((r) => r.release),
        arrivals: releases.map((r) => r.arrived),
      },
    )
  }

/** Per step (`stepS` seconds; whole hours from the hourly rollup), each flow's sessions and failed sessions for `release` (base 0) and the `baseline` releases pooled (base 1). */
const flowSeriesOf = (db: Db) => (project: string, env: string, release: string, baseline: string[], from: number, to: number, stepS: number) =>
  db.rows<FlowStep>(
    `SELECT toUnixTimestamp(toStartOfInterval(m.bucket, toIntervalSecond({step:UInt32}))) AS t, m.name AS flow,
        toUInt8(m.release != {release:String}) AS base, uniqMerge(m.sessions) AS sessions, uniqMerge(m.failed) AS failed
      FROM ${stepS % 3600 === 0 ? RELEASE_STATS_HOUR : RELEASE_STATS_MINUTE} AS m
      WHERE m.project = {project:String} AND m.env = {env:String} AND m.kind = 'flow'
        AND (m.release = {release:String} OR has({baseline:Array(String)}, m.release))
        AND m.bucket >= toStartOfInterval(toDateTime(intDiv({from:Int64}, 1000), 'UTC'), toIntervalSecond({step:UInt32}))
        AND m.bucket <= toDateTime(intDiv({to:Int64}, 1000), 'UTC')
      GROUP BY t, flow, base
      ORDER BY flow, t, base`,
    { project, env, release, baseline, from, to, step: stepS },
  )

/** When each release of an environment arrived, appeared and was last seen (all time), of those seen since `since`; newest first. */
const releaseSpansOf = (db: Db) => (project: string, env: string, since: number) =>
  db.rows<ReleaseSpan>(
    `SELECT m.release AS release, ${APPEARED}, toUnixTimestamp64Milli(max(m.last_ts)) AS lastSeen
      FROM ${RELEASE_SPANS} AS m
      WHERE m.project = {project:String} AND m.env = {env:String}
      GROUP BY m.release
      HAVING max(m.last_ts) >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
      ORDER BY arrived DESC, release DESC`,
    { project, env, since },
  )

/** The project's environments, the most recently active first. */
const environmentsOf = (db: Db) => async (project: string) =>
  (
    await db.rows<{ env: string }>(`SELECT env FROM ${RELEASE_SPANS} WHERE project = {project:String} GROUP BY env ORDER BY max(last_ts) DESC`, { project })
  ).map((r) => r.env)

export const pageStats = (db: Db) => ({
  releaseSessions: sessionsOf(db),
  flowsAndVitals: flowsAndVitalsOf(db),
  flowBaselines: flowBaselinesOf(db),
  flowSeries: flowSeriesOf(db),
  releaseSpans: releaseSpansOf(db),
  environments: environmentsOf(db),
})
export type PageStats = ReturnType<typeof pageStats>
