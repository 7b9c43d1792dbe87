/**
 * What the detector reads to judge releases, each look: releases, their sessions' health, flows,
 * error groups and vitals, per client network weighed (Judged). The dashboard's pages read some of
 * the same (PageReads passes them on).
 */
import type { Db } from './connection.js'
import { errorGroupsReader } from './errorGroups.js'
import { APPEARED, at, judgingSql, NETWORK, perSession, weigh } from './judgingSql.js'
import { EVENTS, RELEASE_MINUTE, SESSION_FLOWS, SESSION_HEALTH } from './tables.js'
import type { ErrorGroup, FlowSessions, ReleaseSummary, SessionCrashes, VitalAbove, VitalStat } from './types.js'

/** The detector's reads (detector/index.ts), each look; PageReads passes some of them on to the pages. */
export type DetectorReads = {
  releases: (project: string, env?: string) => Promise<ReleaseSummary[]>
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

const releases =
  (db: Db) =>
  async (project: string, env?: string): Promise<ReleaseSummary[]> =>
    db.rows<ReleaseSummary>(
      `SELECT m.env AS env, m.release AS release,
        ${APPEARED},
        toUnixTimestamp64Milli(max(m.last_ts)) AS lastSeen,
        sum(m.events) AS events,
        uniqMerge(m.sessions) AS sessions,
        sumIf(m.events, m.kind = 'error') AS errors,
        sumIf(m.events, m.kind = 'flow') AS flows,
        sumIf(m.events, m.kind = 'flow' AND m.outcome != 'ok') AS flowFailures
      FROM ${RELEASE_MINUTE} AS m
      WHERE m.project = {project:String} AND ({env:String} = '' OR m.env = {env:String})
      GROUP BY m.env, m.release
      ORDER BY arrived DESC, release DESC`,
      { project, env: env ?? '' },
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
