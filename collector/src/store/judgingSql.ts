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

/** Windows of a batched read (`{wp}`, `{wf}`, `{wt}`: each window's project, start and end, epoch ms). */
export type Window = { project: string; from: number; to: number }
/** The `i`-th window's start or end (`wf`, `wt`) as a time. */
export const windowAt = (array: 'wf' | 'wt', i: string) => `fromUnixTimestamp64Milli({${array}:Array(Int64)}[${i}], 'UTC')`
/**
 * A batched read's parameters: the windows; each project's windows (`wi`, by the project's place
 * in `projects`), so a row is tested against its own project's windows only; and where the
 * earliest starts (`since`) and the latest ends (`until`).
 */
export const windowParams = (windows: Window[]) => {
  const projects = [...new Set(windows.map((w) => w.project))]
  const wi = projects.map(() => [] as number[])
  windows.forEach((w, i) => wi[projects.indexOf(w.project)]!.push(i + 1))
  return {
    projects,
    wi,
    wp: windows.map((w) => w.project),
    wf: windows.map((w) => w.from),
    wt: windows.map((w) => w.to),
    since: Math.min(...windows.map((w) => w.from)),
    until: Math.max(...windows.map((w) => w.to)),
  }
}
/** A batched read's rows per window (`win`: 1-based), in the order of the windows. */
export const byWindow = <T extends { win: number }>(rows: T[], n: number): Omit<T, 'win'>[][] => {
  const out: Omit<T, 'win'>[][] = Array.from({ length: n }, () => [])
  for (const { win, ...row } of rows) out[win - 1]!.push(row)
  return out
}
/** The windows of the row's project that `test` (of the window's index `i`) holds for: each row is joined to each (ARRAY JOIN … AS win). */
export const windowsWhere = (test: string) => `arrayFilter(i -> ${test}, {wi:Array(Array(UInt32))}[indexOf({projects:Array(String)}, project)])`

/**
 * A per-session rollup's sessions merged, of the windows' projects, active since the earliest
 * window starts, each joined to every window it was active in (`win`, 1-based: its first activity
 * `f` by the window's end, its last `l` from its start on). Merged over every row of the session
 * since then: a session's partial rows (merges are never guaranteed) count as the one session they are.
 */
export const sessionsInWindows = (table: string, keys: string, columns: string, where = '') => `
          SELECT win, * FROM (
            SELECT project, ${keys}, session, min(first_ts) AS f, max(last_ts) AS l, ${columns}
            FROM ${table}
            WHERE project IN {projects:Array(String)} AND last_ts >= ${at('since')}${where && ` AND ${where}`}
            GROUP BY project, ${keys}, session
          )
          ARRAY JOIN ${windowsWhere(`l >= ${windowAt('wf', 'i')} AND f <= ${windowAt('wt', 'i')}`)} AS win`

/** The pieces that depend on VIGIL_MIN_FAILING_NETWORKS. */
export const judgingSql = (minFailingNetworks: number) => {
  // The networks whose failures the rules take away before calling a release bad (Judged).
  const top = Math.max(0, minFailingNetworks - 1)
  /** Per source, its weight `w` and its failures' `kw`: the top ones, summed (Judged); of two with as many failures, the one with more sessions. */
  const tops = `arraySlice(arrayReverseSort(x -> x, arrayFilter(x -> x.1 > 0, groupArray((kw, w)))), 1, ${top})`
  // Each of them counts as one session, failed or not: what they bring beyond that is taken away.
  const topOf = `arraySum(x -> x.1 - least(x.1, 1), ${tops}) AS topFailed, arraySum(x -> x.2 - 1, ${tops}) AS topSessions`
  /** Counts per source (`n`, `k`, `w`, `kw`) to the plain counts and Judged. */
  const judged = (failed: string) => `sum(n) AS sessions, sum(k) AS ${failed},
        sum(w) AS judgedSessions, sum(kw) AS judgedFailed, countIf(k > 0) AS failedNetworks, ${topOf}`
  return { topOf, judged }
}
