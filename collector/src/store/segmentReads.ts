/**
 * Who is affected (an alert's `affected`): where a rule's failed sessions concentrate — browser,
 * OS, device class, the route they failed on, the app's tags and feature-flag variants — each segment's share of the
 * failed sessions against its share of the sessions the rule judged, from the release's events
 * in the rule's window. Read once when an alert fires, so it may read events (one release, one
 * window).
 */
import type { Db } from './connection.js'
import { CRASHED } from './rollupViews.js'
import { EVENTS } from './tables.js'

export type SegmentDimension = 'browser' | 'os' | 'device' | 'route' | 'tag' | 'flag'
export type Segment = { dimension: SegmentDimension; value: string; sessions: number; failed_sessions: number; session_share: number; failed_share: number }
export type Affected = { sessions: number; failed_sessions: number; segments: Segment[] }
/** `flag` and `variant`: for a cohort's alert, only the sessions whose last variant of the flag it is. */
export type AffectedQuestion = { project: string; env: string; release: string; rule: string; subject: string; from: number; to: number; flag?: string; variant?: string }

/** The segments an alert names: those most over-represented among the failed sessions. */
export const MAX_SEGMENTS = 5
/** The longest the read may take: an alert waits for it (and goes without it past this). */
const MAX_SECONDS = 10
/** The tags (and the flag variants) of a session read (a sender's thousand tags cost nothing more). */
const TAGS_PER_SESSION = 10


/** Which of a session's events the rule judged it on (`judged`), and which failed it; none for vitals. */
const rowsOf = (rule: string): { judged: string; failed: string } | undefined => {
  switch (rule) {
    case 'flow_failure':
    case 'flow_threshold':
      return { judged: "kind = 'flow' AND name = {subject:String}", failed: "kind = 'flow' AND name = {subject:String} AND outcome != 'ok'" }
    case 'request_failure':
      return { judged: "kind = 'request' AND name = {subject:String}", failed: "kind = 'request' AND name = {subject:String} AND outcome != 'ok'" }
    case 'crash_rate':
      return { judged: '1', failed: CRASHED }
    case 'new_error_group':
      return { judged: '1', failed: "kind = 'error' AND fingerprint = {subject:String}" }
    default:
      return undefined
  }
}

/**
 * The rule's sessions of the release in the window, per segment: how many, and how many failed.
 * A session's client is what its first batch said (a batch a browser sends as the page goes may
 * carry another user agent: Chromium's keepalive requests do when a test overrides it); its route
 * is where it failed (or, not failed, where it ran what was judged).
 */
const affected =
  (db: Db) =>
  async (q: AffectedQuestion): Promise<Affected | null> => {
    const rows = rowsOf(q.rule)
    if (!rows) return null
    const counts = await db.rows<{ dimension: SegmentDimension | 'all'; value: string; sessions: number; failed_sessions: number }>(
      `SELECT d.1 AS dimension, d.2 AS value, count() AS sessions, countIf(f) AS failed_sessions
      FROM (
        SELECT argMin(browser, received) AS b, argMin(os, received) AS o, argMin(device, received) AS dv, max(${rows.failed}) AS f,
          if(f, anyIf(route, ${rows.failed}), anyIf(route, ${rows.judged})) AS r,
          groupUniqArrayIf(${TAGS_PER_SESSION})(concat(name, '=', outcome), kind = 'tag') AS tags,
          groupUniqArrayIf(${TAGS_PER_SESSION})(concat(name, '=', outcome), kind = 'flag') AS flags
        FROM ${EVENTS}
        WHERE project = {project:String} AND env = {env:String} AND release = {release:String}
          AND ts >= fromUnixTimestamp64Milli({from:Int64}, 'UTC') AND ts <= fromUnixTimestamp64Milli({to:Int64}, 'UTC')
        GROUP BY session
        HAVING max(${rows.judged}) AND ({flag:String} = '' OR argMaxIf(outcome, ts, kind = 'flag' AND name = {flag:String}) = {variant:String})
      )
      ARRAY JOIN arrayConcat([('all', ''), ('browser', b), ('os', o), ('device', dv), ('route', r)], arrayMap(t -> ('tag', t), tags), arrayMap(t -> ('flag', t), flags)) AS d
      WHERE d.1 = 'all' OR d.2 != ''
      GROUP BY dimension, value
      SETTINGS max_execution_time = ${MAX_SECONDS}`,
      { flag: '', variant: '', ...q },
    )
    const all = counts.find((c) => c.dimension === 'all')
    if (!all) return { sessions: 0, failed_sessions: 0, segments: [] }
    return { sessions: all.sessions, failed_sessions: all.failed_sessions, segments: concentrated(counts, all) }
  }

/**
 * The segments with the most over-representation among the failed sessions (their share of them
 * minus their share of the sessions), with at least two failed sessions: the top MAX_SEGMENTS.
 */
export const concentrated = (
  counts: { dimension: SegmentDimension | 'all'; value: string; sessions: number; failed_sessions: number }[],
  all: { sessions: number; failed_sessions: number },
): Segment[] =>
  counts
    .filter((c): c is typeof c & { dimension: SegmentDimension } => c.dimension !== 'all' && c.failed_sessions >= 2 && all.failed_sessions > 0)
    .map((c) => ({ ...c, session_share: c.sessions / all.sessions, failed_share: c.failed_sessions / all.failed_sessions }))
    .sort((a, b) => b.failed_share - b.session_share - (a.failed_share - a.session_share) || b.failed_sessions - a.failed_sessions || a.value.localeCompare(b.value))
    .slice(0, MAX_SEGMENTS)

export const segmentReads = (db: Db) => ({ affected: affected(db) })
