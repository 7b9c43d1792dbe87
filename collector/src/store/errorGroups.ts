/**
 * Error groups of windows, for the detector (a group new in a release) and the release page:
 * from the per-session rollup, each with where it was seen (groupHistory). The detector's windows,
 * of every project it looks at, are read in one query, and their groups' sightings in another;
 * the page's (releaseErrorGroups) without the per-network weighing only the detector needs.
 */
import type { Db } from './connection.js'
import { historiesByPlace, type GroupHistory, type PlacedSighting } from './groupHistory.js'
import { NETWORK, RELEASE, sessionsInWindows, weigh, windowParams, type Window } from './judgingSql.js'
import { ERROR_RELEASES, SESSION_ERRORS, SESSION_HEALTH } from './tables.js'
import type { ErrorGroup } from './types.js'

/** One environment's (or all with ''), one release's (or all with ''), at most `limit` groups. */
type Only = { env: string; release: string; limit: number }
type WindowGroup = Omit<ErrorGroup, keyof GroupHistory> & { win: number; project: string }

/** Rows of an environment and release, or of all (Only's ''). */
const ONLY = `({env:String} = '' OR env = {env:String}) AND ${RELEASE}`

/** The windows' groups from the per-session rollup; `topOf`: judgingSql's. */
const groupsInWindows = (db: Db, topOf: string, windows: Window[], only: Only) =>
  db.rows<WindowGroup>(
    `SELECT win, project, env, release, fingerprint, sum(k) AS sessions, sum(e) AS events,
      any(t) AS type, any(m) AS message, any(st) AS stack, min(h) AS handled,
      sum(kw) AS judgedSessions, count() AS networks, ${topOf}
    FROM (
      -- A network's sessions with the group (k) weigh as its sessions in the release (n) do.
      SELECT g.win AS win, g.project AS project, g.env AS env, g.release AS release, g.fingerprint AS fingerprint,
        g.k AS k, g.e AS e, g.t AS t, g.m AS m, g.st AS st, g.h AS h, greatest(s.n, g.k) AS n, ${weigh}
      FROM (
        SELECT win, project, env, release, fingerprint, ${NETWORK} AS src, count() AS k, sum(e) AS e,
          any(t) AS t, any(m) AS m, any(st) AS st, min(h) AS h
        FROM (${sessionsInWindows(
          SESSION_ERRORS,
          'env, release, fingerprint',
          'sum(events) AS e, any(type) AS t, any(message) AS m, any(stack) AS st, min(handled) AS h, max(net) AS nt',
          ONLY,
        )})
        GROUP BY win, project, env, release, fingerprint, src
      ) AS g
      LEFT JOIN (
        SELECT win, env, release, ${NETWORK} AS src, count() AS n
        FROM (${sessionsInWindows(SESSION_HEALTH, 'env, release', 'max(net) AS nt', ONLY)})
        GROUP BY win, env, release, src
      ) AS s ON g.win = s.win AND g.env = s.env AND g.release = s.release AND g.src = s.src
    )
    GROUP BY win, project, env, release, fingerprint
    ORDER BY sessions DESC, fingerprint
    LIMIT {limit:UInt32}`,
    { ...windowParams(windows), env: only.env, release: only.release, limit: only.limit },
  )

/**
 * The sightings of the groups `wanted` gives (project, env, fingerprint) and of every group they
 * may be: found by their keys in ClickHouse (GLOBAL IN: on a cluster, the subqueries run once,
 * not on every shard).
 */
const sightingsSql = (wanted: string) => `WITH wanted AS (${wanted}),
    keys AS (
      SELECT DISTINCT project, env, fingerprint, stack_fingerprint FROM ${ERROR_RELEASES}
      WHERE project IN {projects:Array(String)} AND (project, env, fingerprint) GLOBAL IN (SELECT project, env, fingerprint FROM wanted)
    )
    SELECT project, env, fingerprint, stack_fingerprint, release, toUnixTimestamp64Milli(min(first_ts)) AS first
    FROM ${ERROR_RELEASES}
    WHERE project IN {projects:Array(String)}
      AND ((project, env, fingerprint) GLOBAL IN (SELECT project, env, fingerprint FROM keys)
        OR (project, env, fingerprint) GLOBAL IN (SELECT project, env, stack_fingerprint FROM keys)
        OR (project, env, stack_fingerprint) GLOBAL IN (SELECT project, env, stack_fingerprint FROM keys))
    GROUP BY project, env, fingerprint, stack_fingerprint, release`

/** The sightings of the windows' groups. */
const sightingsOf = (db: Db, windows: Window[], only: Only) =>
  db.rows<PlacedSighting>(
    sightingsSql(`SELECT DISTINCT project, env, fingerprint FROM ${SESSION_ERRORS}
      WHERE project IN {projects:Array(String)} AND last_ts >= fromUnixTimestamp64Milli({since:Int64}, 'UTC') AND ${ONLY}`),
    { ...windowParams(windows), env: only.env, release: only.release },
  )

/** The sightings of the groups given (the detector's kept sessions' groups), for several projects and environments at once. */
const sightingsOfGroups = (db: Db) => (groups: { project: string; env: string; fingerprint: string }[]) =>
  groups.length === 0
    ? Promise.resolve([])
    : db.rows<PlacedSighting>(
        sightingsSql(`SELECT tupleElement(x, 1) AS project, tupleElement(x, 2) AS env, tupleElement(x, 3) AS fingerprint
      FROM (SELECT arrayJoin(arrayZip({gp:Array(String)}, {ge:Array(String)}, {gf:Array(String)})) AS x)`),
        {
          projects: [...new Set(groups.map((g) => g.project))],
          gp: groups.map((g) => g.project),
          ge: groups.map((g) => g.env),
          gf: groups.map((g) => g.fingerprint),
        },
      )

/** Per window, its groups (of every environment, or `only`'s), most sessions first, each with its history. */
const groupsOfWindows = async (db: Db, topOf: string, windows: Window[], only: Only): Promise<ErrorGroup[][]> => {
  const out: ErrorGroup[][] = windows.map(() => [])
  if (windows.length === 0) return out
  const groups = await groupsInWindows(db, topOf, windows, only)
  if (groups.length === 0) return out
  const historyOf = historiesByPlace(await sightingsOf(db, windows, only))
  for (const { win, project, ...g } of groups) out[win - 1]!.push({ ...g, ...historyOf(project, g.env)(g.fingerprint) })
  return out
}

/** An error group as the release page shows it: no weighing per network (only the detector judges it). */
export type PageErrorGroup = Omit<ErrorGroup, 'judgedSessions' | 'networks' | 'topFailed' | 'topSessions'>

/**
 * One release's error groups in [from, to], most sessions first, at most `limit`, each with its
 * history: counted from its sessions with errors alone, each group's example read apart (so the
 * stacks of only the groups shown are returned, and no session without an error is read).
 */
export const releaseErrorGroups =
  (db: Db) =>
  async (project: string, env: string, release: string, from: number, to: number, limit: number): Promise<PageErrorGroup[]> => {
    const windows = [{ project, from, to }]
    const only = { env, release, limit }
    const groups = await db.rows<PageErrorGroup>(
      `SELECT env, release, fingerprint, c.sessions AS sessions, c.events AS events, c.handled AS handled, x.type AS type, x.message AS message, x.stack AS stack
      FROM (
        SELECT env, release, fingerprint, count() AS sessions, sum(e) AS events, min(h) AS handled
        FROM (${sessionsInWindows(SESSION_ERRORS, 'env, release, fingerprint', 'sum(events) AS e, min(handled) AS h', ONLY)})
        GROUP BY env, release, fingerprint
        ORDER BY sessions DESC, fingerprint
        LIMIT {limit:UInt32}
      ) AS c
      LEFT JOIN (
        SELECT env, release, fingerprint, any(type) AS type, any(message) AS message, any(stack) AS stack FROM ${SESSION_ERRORS}
        WHERE project = {project:String} AND last_ts >= fromUnixTimestamp64Milli({since:Int64}, 'UTC') AND first_ts <= fromUnixTimestamp64Milli({until:Int64}, 'UTC') AND ${ONLY}
        GROUP BY env, release, fingerprint
      ) AS x USING (env, release, fingerprint)
      ORDER BY sessions DESC, fingerprint`,
      { ...windowParams(windows), project, ...only },
    )
    if (groups.length === 0) return []
    const historyOf = historiesByPlace(await sightingsOf(db, windows, only))
    return groups.map((g) => ({ ...g, ...historyOf(project, g.env)(g.fingerprint) }))
  }

/** The detector's and the page's error-group reads. */
export const errorGroupsReader = (db: Db, topOf: string) => ({
  /** Every sighting of the groups given (and of those they may be: groupHistory). */
  sightingsOfGroups: sightingsOfGroups(db),
  /** Per window (a project's, every environment), its groups: two queries for them all. */
  windowErrorGroups: (windows: Window[]) => groupsOfWindows(db, topOf, windows, { env: '', release: '', limit: 1_000_000 }),
  /** Error groups of an environment in the window, most sessions first; with `only`, one release's, at most `only.limit`. */
  errorGroups: async (project: string, env: string, from: number, to: number, only?: { release: string; limit: number }): Promise<ErrorGroup[]> =>
    (await groupsOfWindows(db, topOf, [{ project, from, to }], { env, release: only?.release ?? '', limit: only?.limit ?? 1_000_000 }))[0]!,
})
