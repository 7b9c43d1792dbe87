/**
 * What the detector keeps of the per-session rollups in memory (detector/sessions.ts): the
 * sessions active since `since`, each whole — all at first, then each look only those ClickHouse
 * stored a row of since the last (`inserted`, migration 12), so a look reads what arrived, not
 * the sessions of its window.
 */
import type { Db } from './connection.js'
import { at } from './judgingSql.js'
import { MERGED_SAMPLES, sampleParts } from './rollupViews.js'
import { SESSION_ERRORS, SESSION_FLAGS, SESSION_FLOWS, SESSION_HEALTH, SESSION_VITALS, type FlowKind } from './tables.js'

type Keys = { project: string; env: string; release: string; session: string; f: number; l: number; nt: string }
/** A session's health: crashed (`c`), its last crash (`lc`, epoch ms). */
export type HealthRow = Keys & { c: number; lc: number }
/** A session's runs of a flow, or calls to an endpoint (`kind`): attempts (`a`), failures (`fl`), its last failure (`lf`). */
export type FlowRow = Keys & { flow: string; kind: FlowKind; a: number; fl: number; lf: number }
/** A session's errors of a group: events (`e`), handled only (`h`), an example (`t`, `m`, `st`). */
export type ErrorRow = Keys & { fingerprint: string; e: number; h: number; t: string; m: string; st: string }
/** A session's web-vital samples: each one's name (`vn`), time (`vt`, epoch ms) and value (`vv`). */
export type VitalRow = Keys & { vn: string[]; vt: number[]; vv: number[] }
/** A session's variant of a feature flag (the last it said). */
export type FlagRow = Keys & { flag: string; variant: string }
/** `at`: ClickHouse's time when the read began (the next read's mark: its clock, not ours, says what `inserted` means). */
export type StoredSessions = { at: number; health: HealthRow[]; flows: FlowRow[]; errors: ErrorRow[]; vitals: VitalRow[]; flags: FlagRow[] }

const ms = (column: string) => `toUnixTimestamp64Milli(${column})`

/** The sessions given as `{tp}`, `{te}`, `{tr}`, `{ts}` (project, environment, release, session). */
const GIVEN = `(project, env, release, session) IN (
      SELECT tupleElement(x, 1), tupleElement(x, 2), tupleElement(x, 3), tupleElement(x, 4)
      FROM (SELECT arrayJoin(arrayZip({tp:Array(String)}, {te:Array(String)}, {tr:Array(String)}, {ts:Array(String)})) AS x))`

/** A rollup's sessions of the projects active since `since`: all, or those given (GIVEN). */
const sessionsOf = (table: string, keys: string, columns: string, all: boolean) => `
  SELECT project, ${keys}, session, ${ms('min(first_ts)')} AS f, ${ms('max(last_ts)')} AS l, max(net) AS nt, ${columns}
  FROM ${table}
  WHERE project IN {projects:Array(String)} AND last_ts >= ${at('since')}${all ? '' : ` AND ${GIVEN}`}
  GROUP BY project, ${keys}, session`

type Session = Pick<Keys, 'project' | 'env' | 'release' | 'session'>

/**
 * The sessions of `projects` active since `since` (all of them, or with `storedSince` those
 * ClickHouse stored a row of since — every event leaves one in session_health — each read whole).
 */
const storedSessions = (db: Db) => async (projects: string[], since: number, storedSince?: number): Promise<StoredSessions> => {
  const [{ at: started }] = (await db.rows<{ at: number }>("SELECT toUnixTimestamp64Milli(now64(3, 'UTC')) AS at")) as [{ at: number }]
  const none = { at: started, health: [], flows: [], errors: [], vitals: [], flags: [] }
  if (projects.length === 0) return none
  const all = storedSince === undefined
  let given = {}
  if (!all) {
    const touched = await db.rows<Session>(
      `SELECT DISTINCT project, env, release, session FROM ${SESSION_HEALTH}
      WHERE project IN {projects:Array(String)} AND last_ts >= ${at('since')} AND inserted >= ${at('storedSince')}`,
      { projects, since, storedSince },
    )
    if (touched.length === 0) return none
    given = { tp: touched.map((t) => t.project), te: touched.map((t) => t.env), tr: touched.map((t) => t.release), ts: touched.map((t) => t.session) }
  }
  const params = { projects, since, ...given }
  const health = await db.rows<HealthRow>(sessionsOf(SESSION_HEALTH, 'env, release', `max(crashed) AS c, ${ms('max(last_crash)')} AS lc`, all), params)
  const flows = await db.rows<FlowRow>(sessionsOf(SESSION_FLOWS, 'env, release, flow, kind', `sum(attempts) AS a, sum(failures) AS fl, ${ms('max(last_failure)')} AS lf`, all), params)
  const errors = await db.rows<ErrorRow>(
    sessionsOf(SESSION_ERRORS, 'env, release, fingerprint', 'sum(events) AS e, min(handled) AS h, any(type) AS t, any(message) AS m, any(stack) AS st', all),
    params,
  )
  const x = sampleParts('x')
  const vitals = await db.rows<VitalRow>(
    `SELECT * EXCEPT (s), arrayMap(x -> ${x.name}, s) AS vn, arrayMap(x -> ${x.ms}, s) AS vt, arrayMap(x -> ${x.value}, s) AS vv
    FROM (${sessionsOf(SESSION_VITALS, 'env, release', `${MERGED_SAMPLES} AS s`, all)})`,
    params,
  )
  const flags = await db.rows<FlagRow>(sessionsOf(SESSION_FLAGS, 'env, release, flag', 'argMaxMerge(variant) AS variant', all), params)
  return { at: started, health, flows, errors, vitals, flags }
}

export const sessionReads = (db: Db) => ({ storedSessions: storedSessions(db) })
export type SessionReads = ReturnType<typeof sessionReads>
