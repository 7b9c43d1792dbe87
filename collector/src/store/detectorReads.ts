/**
 * What the detector reads to judge releases, each look: releases, their sessions' health, flows,
 * error groups and vitals, per client network weighed (Judged). The dashboard's pages read some of
 * the same (PageReads passes them on).
 */
import type { Db } from './connection.js'
import { errorGroupsReader } from './errorGroups.js'
import { APPEARED, at, judgingSql, NETWORK, perSession, weigh } from './judgingSql.js'
import { EVENTS, RELEASE_SPANS, RELEASE_STATS_DAY, SESSION_FLOWS, SESSION_HEALTH } from './tables.js'
import type { ErrorGroup, FlowSessions, ReleaseSummary, SessionCrashes, VitalAbove, VitalStat } from './types.js'

/** The detector's reads (detector/index.ts), each look; PageReads passes some of them on to the pages. */
export type DetectorReads = {
  /** Every release, with its events and sessions since the day of `since` (all time without). */
  releases: (project: string, env?: string, since?: number) => Promise<ReleaseSummary[]>
  sessionCrashes: (project: string, from: number, to: number) => Promise<SessionCrashes[]>
  flowSessions: (project: string, from: number, to: number) => Promise<FlowSessions[]>
  /** Error groups per release in the window, most sessions first; with `only`, one release's, at most `only.limit`. */
  errorGroups: (project: string, env: string, from: number, to: number, only?: { release: string; limit: number }) => Promise<ErrorGroup[]>
  vitals: (project: string, from: number, to: number) => Promise<VitalStat[]>
  /** How many of a release's vital samples in the window are above `threshold`. */
  vitalAbove: (project: string, env: string, release: string, name: string, threshold: number, from: number, to: number) => Promise<VitalAbove>
}

/** judgingSql's `judged`: the counts per source to the plain counts and Judged. */
type JudgedSql = ReturnType<typeof judgingSql>['judged']

/**
 * Every release of a project (of `env`), with its span, and its events and sessions since the
 * start of the day `since` falls in (all time by default): one row per release from the spans and
 * one per release and day from the daily rollup, so the cost follows releases and days kept, not
 * events, sessions or minutes.
 */
const releases =
  (db: Db) =>
  async (project: string, env?: string, since = 0): Promise<ReleaseSummary[]> =>
    db.rows<ReleaseSummary>(
      `SELECT env, release, s.arrived AS arrived, s.firstSeen AS firstSeen, s.lastSeen AS lastSeen,
        d.events AS events, d.sessions AS sessions, d.errors AS errors, d.flows AS flows, d.flowFailures AS flowFailures
      FROM (
        SELECT m.env AS env, m.release AS release, ${APPEARED}, toUnixTimestamp64Milli(max(m.last_ts)) AS lastSeen
        FROM ${RELEASE_SPANS} AS m
        WHERE m.project = {project:String} AND ({env:String} = '' OR m.env = {env:String})
        GROUP BY m.env, m.release
      ) AS s
      LEFT JOIN (
        SELECT x.env AS env, x.release AS release, sum(x.events) AS events, uniqMerge(x.sessions) AS sessions,
          sumIf(x.events, x.kind = 'error') AS errors, sumIf(x.events, x.kind = 'flow') AS flows, sum(x.failures) AS flowFailures
        FROM ${RELEASE_STATS_DAY} AS x
        WHERE x.project = {project:String} AND ({env:String} = '' OR x.env = {env:String})
          AND x.bucket >= toStartOfDay(fromUnixTimestamp64Milli({since:Int64}, 'UTC'))
        GROUP BY x.env, x.release
      ) AS d USING (env, release)
      ORDER BY arrived DESC, release DESC`,
      { project, env: env ?? '', since },
    )

const sessionCrashes =
  (db: Db, judged: JudgedSql) =>
  (project: string, from: number, to: number) =>
    db.rows<SessionCrashes>(
      `SELECT env, release, ${judged('crashed')}
      FROM (
        SELECT env, release, ${NETWORK} AS src, count() AS n, countIf(c AND lc >= ${at('from')}) AS k, ${weigh}
        FROM (${perSession(SESSION_HEALTH, 'env, release', 'max(crashed) AS c, max(last_crash) AS lc, max(net) AS nt')})
        GROUP BY env, release, src
      )
      GROUP BY env, release`,
      { project, from, to },
    )

const flowSessions =
  (db: Db, judged: JudgedSql) =>
  (project: string, from: number, to: number) =>
    db.rows<FlowSessions>(
      `SELECT env, release, flow, ${judged('failed')}, sum(a) AS attempts, sum(fl) AS failures
      FROM (
        SELECT env, release, flow, ${NETWORK} AS src, count() AS n, countIf(lf >= ${at('from')}) AS k, sum(a) AS a, sum(fl) AS fl, ${weigh}
        FROM (${perSession(SESSION_FLOWS, 'env, release, flow', 'sum(attempts) AS a, sum(failures) AS fl, max(last_failure) AS lf, max(net) AS nt')})
        GROUP BY env, release, flow, src
      )
      GROUP BY env, release, flow`,
      { project, from, to },
    )

const vitals =
  (db: Db) =>
  (project: string, from: number, to: number) =>
    db.rows<VitalStat>(
      `SELECT env, release, name, quantile(0.75)(value) AS p75, count() AS samples
      FROM ${EVENTS}
      WHERE project = {project:String} AND kind = 'vital' AND ts BETWEEN ${at('from')} AND ${at('to')}
      GROUP BY env, release, name`,
      { project, from, to },
    )

const vitalAbove =
  (db: Db, judged: JudgedSql) =>
  async (project: string, env: string, release: string, name: string, threshold: number, from: number, to: number) => {
    const [r] = await db.rows<Omit<VitalAbove, 'samples'> & { sessions: number }>(
      `SELECT ${judged('above')}
      FROM (
        SELECT ${NETWORK} AS src, count() AS n, countIf(value > {threshold:Float64}) AS k, ${weigh}
        FROM (
          SELECT session, net AS nt, value FROM ${EVENTS}
          WHERE project = {project:String} AND env = {env:String} AND release = {release:String} AND kind = 'vital'
            AND name = {name:String} AND ts BETWEEN ${at('from')} AND ${at('to')}
        )
        GROUP BY src
      )`,
      { project, env, release, name, threshold, from, to },
    )
    // An aggregate without GROUP BY answers one row, zeros when there is nothing.
    const { sessions, ...counts } = r!
    return { ...counts, samples: sessions }
  }


/** `minFailingNetworks`: VIGIL_MIN_FAILING_NETWORKS (Judged). */
export const createDetectorReads = (db: Db, options: { minFailingNetworks: number }): DetectorReads => {
  const { topOf, judged } = judgingSql(options.minFailingNetworks)
  return {
    releases: releases(db),
    sessionCrashes: sessionCrashes(db, judged),
    flowSessions: flowSessions(db, judged),
    errorGroups: errorGroupsReader(db, topOf),
    vitals: vitals(db),
    vitalAbove: vitalAbove(db, judged),
  }
}
