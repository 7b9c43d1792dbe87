/**
 * What the detector reads to judge releases, each look: releases, their sessions' health, flows,
 * error groups and vitals, per client network weighed (Judged). The dashboard's pages read some of
 * the same (PageReads passes them on).
 */
import type { Db } from './connection.js'
import { errorGroupsReader } from './errorGroups.js'
import { vitalReads, type AboveQuestion } from './vitalReads.js'
import { sessionReads, type SessionReads } from './sessionReads.js'
import { segmentReads } from './segmentReads.js'
import { APPEARED, byWindow, judgingSql, NETWORK, sessionsInWindows, weigh, windowAt, windowParams, type Window } from './judgingSql.js'
import { RELEASE_SPANS, RELEASE_STATS_DAY, SESSION_FLOWS, SESSION_HEALTH } from './tables.js'
import type { PlacedSighting } from './groupHistory.js'
import type { ErrorGroup, FlowSessions, ProjectRelease, ReleaseSummary, SessionCrashes, VitalAbove, VitalStat } from './types.js'

/** The detector's reads (detector/index.ts), each look; PageReads passes some of them on to the pages. */
export type DetectorReads = SessionReads & ReturnType<typeof segmentReads> & {
  /** VIGIL_MIN_FAILING_NETWORKS, as the reads weigh networks (Judged). */
  minFailingNetworks: number
  /** Every release, with its events and sessions since the day of `since` (all time without). */
  releases: (project: string, env?: string, since?: number) => Promise<ReleaseSummary[]>
  /** The releases of every one of `projects` (as `releases`), one query for them all. */
  projectReleases: (projects: string[], since: number) => Promise<ProjectRelease[]>
  /** Per window (a project's, all its environments), its releases' sessions and crashes: one query for them all. */
  windowCrashes: (windows: Window[]) => Promise<SessionCrashes[][]>
  /** Per window, its releases' flows: one query for them all. */
  windowFlows: (windows: Window[]) => Promise<FlowSessions[][]>
  /** Every sighting of the groups given (and of those they may be: groupHistory), for several projects and environments at once. */
  sightingsOfGroups: (groups: { project: string; env: string; fingerprint: string }[]) => Promise<PlacedSighting[]>
  /** Per window (a project's, every environment), its error groups: two queries for them all. */
  windowErrorGroups: (windows: Window[]) => Promise<ErrorGroup[][]>
  /** Error groups per release in the window, most sessions first; with `only`, one release's, at most `only.limit`. */
  errorGroups: (project: string, env: string, from: number, to: number, only?: { release: string; limit: number }) => Promise<ErrorGroup[]>
  /** Per window, its releases' vital stats. */
  windowVitals: (windows: Window[]) => Promise<VitalStat[][]>
  /** Per question, how many of a release's vital samples in a window are above its threshold: one query for them all. */
  vitalsAbove: (questions: AboveQuestion[]) => Promise<VitalAbove[]>
}

/** judgingSql's `judged`: the counts per source to the plain counts and Judged. */
type JudgedSql = ReturnType<typeof judgingSql>['judged']

/**
 * Every release of the projects (of `env`), with its span, and its events and sessions since the
 * start of the day `since` falls in (all time with 0): one row per release from the spans and one
 * per release and day from the daily rollup, so the cost follows releases and days kept, not
 * events, sessions or minutes. One query for any number of projects.
 */
const releasesOf =
  (db: Db) =>
  async (projects: string[], since: number, env = ''): Promise<ProjectRelease[]> =>
    db.rows<ProjectRelease>(
      `SELECT project, env, release, s.arrived AS arrived, s.firstSeen AS firstSeen, s.lastSeen AS lastSeen,
        d.events AS events, d.sessions AS sessions, d.errors AS errors, d.flows AS flows, d.flowFailures AS flowFailures
      FROM (
        SELECT m.project AS project, m.env AS env, m.release AS release, ${APPEARED}, toUnixTimestamp64Milli(max(m.last_ts)) AS lastSeen
        FROM ${RELEASE_SPANS} AS m
        WHERE m.project IN {projects:Array(String)} AND ({env:String} = '' OR m.env = {env:String})
        GROUP BY m.project, m.env, m.release
      ) AS s
      LEFT JOIN (
        SELECT x.project AS project, x.env AS env, x.release AS release, sum(x.events) AS events, uniqMerge(x.sessions) AS sessions,
          sumIf(x.events, x.kind = 'error') AS errors, sumIf(x.events, x.kind = 'flow') AS flows, sumIf(x.failures, x.kind = 'flow') AS flowFailures
        FROM ${RELEASE_STATS_DAY} AS x
        WHERE x.project IN {projects:Array(String)} AND ({env:String} = '' OR x.env = {env:String})
          AND x.bucket >= toStartOfDay(fromUnixTimestamp64Milli({since:Int64}, 'UTC'))
        GROUP BY x.project, x.env, x.release
      ) AS d USING (project, env, release)
      ORDER BY project, arrived DESC, release DESC`,
      { projects, env, since },
    )

const windowCrashes =
  (db: Db, judged: JudgedSql) =>
  async (windows: Window[]): Promise<SessionCrashes[][]> =>
    windows.length === 0
      ? []
      : byWindow(
          await db.rows<SessionCrashes & { win: number }>(
            `SELECT win, env, release, ${judged('crashed')}
      FROM (
        SELECT win, env, release, ${NETWORK} AS src, count() AS n, countIf(c AND lc >= ${windowAt('wf', 'win')}) AS k, ${weigh}
        FROM (${sessionsInWindows(SESSION_HEALTH, 'env, release', 'max(crashed) AS c, max(last_crash) AS lc, max(net) AS nt')})
        GROUP BY win, env, release, src
      )
      GROUP BY win, env, release`,
            windowParams(windows),
          ),
          windows.length,
        )

const windowFlows =
  (db: Db, judged: JudgedSql) =>
  async (windows: Window[]): Promise<FlowSessions[][]> =>
    windows.length === 0
      ? []
      : byWindow(
          await db.rows<FlowSessions & { win: number }>(
            `SELECT win, env, release, flow, kind, ${judged('failed')}, sum(a) AS attempts, sum(fl) AS failures
      FROM (
        SELECT win, env, release, flow, kind, ${NETWORK} AS src, count() AS n, countIf(lf >= ${windowAt('wf', 'win')}) AS k, sum(a) AS a, sum(fl) AS fl, ${weigh}
        FROM (${sessionsInWindows(SESSION_FLOWS, 'env, release, flow, kind', 'sum(attempts) AS a, sum(failures) AS fl, max(last_failure) AS lf, max(net) AS nt')})
        GROUP BY win, env, release, flow, kind, src
      )
      GROUP BY win, env, release, flow, kind`,
            windowParams(windows),
          ),
          windows.length,
        )

/** `minFailingNetworks`: VIGIL_MIN_FAILING_NETWORKS (Judged). */
export const createDetectorReads = (db: Db, options: { minFailingNetworks: number }): DetectorReads => {
  const { topOf, judged } = judgingSql(options.minFailingNetworks)
  return {
    minFailingNetworks: options.minFailingNetworks,
    releases: async (project, env, since = 0) => (await releasesOf(db)([project], since, env)).map(({ project: _, ...r }) => r),
    projectReleases: (projects, since) => (projects.length === 0 ? Promise.resolve([]) : releasesOf(db)(projects, since)),
    windowCrashes: windowCrashes(db, judged),
    windowFlows: windowFlows(db, judged),
    ...errorGroupsReader(db, topOf),
    ...vitalReads(db, judged),
    ...sessionReads(db),
    ...segmentReads(db),
  }
}
