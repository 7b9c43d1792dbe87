/**
 * Error groups of a window, for the detector (a group new in a release) and the release page:
 * from the per-session rollup, each with where it was seen (groupHistory).
 */
import type { Db } from './connection.js'
import { groupHistories, type GroupHistory, type GroupSighting } from './groupHistory.js'
import { at, NETWORK, perSession, RELEASE, weigh } from './judgingSql.js'
import { ERROR_RELEASES, SESSION_ERRORS, SESSION_HEALTH } from './tables.js'
import type { ErrorGroup } from './types.js'

type Only = { release: string; limit: number }

/** The window's groups from the per-session rollup; `topOf`: judgingSql's. */
const groupsInWindow = (db: Db, topOf: string, q: { project: string; env: string; from: number; to: number; only?: Only }) => {
  const { project, env, from, to, only } = q
  return db.rows<Omit<ErrorGroup, keyof GroupHistory>>(
    `SELECT env, release, fingerprint, sum(k) AS sessions, sum(e) AS events,
      any(t) AS type, any(m) AS message, any(st) AS stack, min(h) AS handled,
      sum(kw) AS judgedSessions, count() AS networks, ${topOf}
    FROM (
      -- A network's sessions with the group (k) weigh as its sessions in the release (n) do.
      SELECT g.env AS env, g.release AS release, g.fingerprint AS fingerprint, g.k AS k, g.e AS e, g.t AS t, g.m AS m, g.st AS st, g.h AS h,
        greatest(s.n, g.k) AS n, ${weigh}
      FROM (
        SELECT env, release, fingerprint, ${NETWORK} AS src, count() AS k, sum(e) AS e,
          any(t) AS t, any(m) AS m, any(st) AS st, min(h) AS h
        FROM (${perSession(
          SESSION_ERRORS,
          'env, release, fingerprint',
          'sum(events) AS e, any(type) AS t, any(message) AS m, any(stack) AS st, min(handled) AS h, max(net) AS nt',
          `env = {env:String} AND ${RELEASE}`,
        )})
        GROUP BY env, release, fingerprint, src
      ) AS g
      LEFT JOIN (
        SELECT env, release, ${NETWORK} AS src, count() AS n
        FROM (${perSession(SESSION_HEALTH, 'env, release', 'max(net) AS nt', `env = {env:String} AND ${RELEASE}`)})
        GROUP BY env, release, src
      ) AS s ON g.env = s.env AND g.release = s.release AND g.src = s.src
    )
    GROUP BY env, release, fingerprint
    ORDER BY sessions DESC, fingerprint
    LIMIT {limit:UInt32}`,
    { project, env, from, to, release: only?.release ?? '', limit: only?.limit ?? 1_000_000 },
  )
}

/**
 * The sightings of the window's groups and of every group they may be: found by their keys in
 * ClickHouse (GLOBAL IN: on a cluster, the subqueries run once, not on every shard).
 */
const sightingsOf = (db: Db, q: { project: string; env: string; from: number; only?: Only }) => {
  const { project, env, from, only } = q
  return db.rows<GroupSighting>(
    `WITH win AS (
      SELECT DISTINCT fingerprint FROM ${SESSION_ERRORS}
      WHERE project = {project:String} AND env = {env:String} AND last_ts >= ${at('from')}
        AND ({release:String} = '' OR release = {release:String})
    ),
    keys AS (
      SELECT DISTINCT fingerprint, stack_fingerprint FROM ${ERROR_RELEASES}
      WHERE project = {project:String} AND env = {env:String} AND fingerprint GLOBAL IN (SELECT fingerprint FROM win)
    )
    SELECT fingerprint, stack_fingerprint, release, toUnixTimestamp64Milli(min(first_ts)) AS first
    FROM ${ERROR_RELEASES}
    WHERE project = {project:String} AND env = {env:String}
      AND (fingerprint GLOBAL IN (SELECT fingerprint FROM keys) OR fingerprint GLOBAL IN (SELECT stack_fingerprint FROM keys)
        OR stack_fingerprint GLOBAL IN (SELECT stack_fingerprint FROM keys))
    GROUP BY fingerprint, stack_fingerprint, release`,
    { project, env, from, release: only?.release ?? '' },
  )
}

/** Error groups per release in the window, most sessions first; with `only`, one release's, at most `only.limit`. */
export const errorGroupsReader =
  (db: Db, topOf: string) =>
  async (project: string, env: string, from: number, to: number, only?: Only): Promise<ErrorGroup[]> => {
    const groups = await groupsInWindow(db, topOf, { project, env, from, to, only })
    if (groups.length === 0) return []
    const history = groupHistories(await sightingsOf(db, { project, env, from, only }))
    return groups.map((g) => ({ ...g, ...history(g.fingerprint) }))
  }
