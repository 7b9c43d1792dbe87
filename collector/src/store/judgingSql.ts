/**
 * The SQL pieces the detector's reads and the pages' reads share: sessions merged per session,
 * each client network's weight bounded (Judged), a release's first appearance. Values still go in
 * only as `{name:Type}` parameters; these are fragments of the queries in detectorReads.ts and
 * pageReads.ts.
 */
import { APPEARED_BEFORE_ARRIVAL_MS, SESSIONS_PER_NETWORK } from './types.js'

/** The epoch-ms parameter `name` as a time. */
export const at = (name: string) => `fromUnixTimestamp64Milli({${name}:Int64}, 'UTC')`

/** A session's source (`nt`: its network): the network, or the session itself when it has none. */
export const NETWORK = "if(nt = '', concat('s:', session), nt)"

/** Per source `n` sessions, `k` of them failed: its weight and its failures' (Judged). */
export const weigh = `least(n, ${SESSIONS_PER_NETWORK}) AS w, k * w / n AS kw`

/** The optional `{release}` parameter: one release's rows, or all when it is ''. */
export const RELEASE = "({release:String} = '' OR release = {release:String})"

/** `arrived` and `firstSeen` of ReleaseSummary, from the release rollup `m`. */
export const APPEARED = `toUnixTimestamp64Milli(min(m.first_received)) AS arrived,
        greatest(toUnixTimestamp64Milli(min(m.first_ts)), arrived - ${APPEARED_BEFORE_ARRIVAL_MS}) AS firstSeen`

/**
 * A per-session rollup's rows merged per session (merges are never guaranteed, so a session may
 * have several partial rows): `keys`, `session`, its first activity `f` and `columns`, of the
 * sessions active in [`from`, {to}] (a row whose last activity is before the window cannot bring
 * anything into it). `where`: more conditions.
 */
export const perSession = (table: string, keys: string, columns: string, where = '', from = 'from') => `
          SELECT ${keys}, session, min(first_ts) AS f, ${columns}
          FROM ${table}
          WHERE project = {project:String} AND last_ts >= ${at(from)}${where && ` AND ${where}`}
          GROUP BY ${keys}, session
          HAVING f <= ${at('to')}`

/** The pieces that depend on VIGIL_MIN_FAILING_NETWORKS. */
export const judgingSql = (minFailingNetworks: number) => {
  // The networks whose failures the rules take away before calling a release bad (Judged).
  const top = Math.max(0, minFailingNetworks - 1)
  /** Per source, its weight `w` and its failures' `kw`: the top ones, summed (Judged). */
  const tops = `arraySlice(arrayReverseSort(x -> x.1, arrayFilter(x -> x.1 > 0, groupArray((kw, w)))), 1, ${top})`
  // Each of them counts as one session, failed or not: what they bring beyond that is taken away.
  const topOf = `arraySum(x -> x.1 - least(x.1, 1), ${tops}) AS topFailed, arraySum(x -> x.2 - 1, ${tops}) AS topSessions`
  /** Counts per source (`n`, `k`, `w`, `kw`) to the plain counts and Judged. */
  const judged = (failed: string) => `sum(n) AS sessions, sum(k) AS ${failed},
        sum(w) AS judgedSessions, sum(kw) AS judgedFailed, countIf(k > 0) AS failedNetworks, ${topOf}`
  return { topOf, judged }
}
