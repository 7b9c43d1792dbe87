/**
 * A release's feature-flag cohorts, for its page: per flag and variant (each session's last), its
 * sessions, those that crashed, and per flow and endpoint the sessions that ran it and those that
 * failed it. The detector judges the same cohorts from its memory (detector/cohorts.ts); the page
 * reads them per session from the per-session rollups, for one release and range, with a time limit.
 */
import type { Db } from './connection.js'
import { at } from './judgingSql.js'
import { SESSION_FLAGS, SESSION_FLOWS, SESSION_HEALTH, type FlowKind } from './tables.js'

export type CohortStat = { flag: string; variant: string; sessions: number; crashed: number }
export type CohortFlow = { flag: string; variant: string; kind: FlowKind; flow: string; sessions: number; failed: number }
export type ReleaseCohorts = { variants: CohortStat[]; flows: CohortFlow[] }

/** The longest the page waits for its cohorts. */
const MAX_SECONDS = 10
/** The most variants a page lists (the most sessions first). */
const MAX_VARIANTS = 100

/** A per-session rollup's sessions of the release active in the range (from `since`: `from`, or earlier). */
const ofRelease = (table: string, keys: string[], columns: string, since = 'from') => `
  SELECT ${['session', ...keys, columns].join(', ')} FROM ${table}
  WHERE project = {project:String} AND env = {env:String} AND release = {release:String} AND last_ts >= ${at(since)} AND first_ts <= ${at('to')}
  GROUP BY ${['session', ...keys].join(', ')}`

/** How long before the range a session active in it may have said its flags (a page open for hours). */
const FLAGS_BEFORE_MS = 12 * 3600_000
/** The variants of the sessions active in the range (HEALTH: every event leaves a row there), whenever they said them. */
const FLAGS = ofRelease(SESSION_FLAGS, ['flag'], 'argMaxMerge(variant) AS variant', 'flagsFrom')
const HEALTH = ofRelease(SESSION_HEALTH, [], 'max(crashed) AS c')

const releaseCohorts =
  (db: Db) =>
  async (q: { project: string; env: string; release: string; from: number; to: number }): Promise<ReleaseCohorts> => {
    const params = { ...q, flagsFrom: q.from - FLAGS_BEFORE_MS }
    const variants = await db.rows<CohortStat>(
      `SELECT flag, variant, count() AS sessions, countIf(h.c > 0) AS crashed
      FROM (${FLAGS}) AS s
      INNER JOIN (${HEALTH}) AS h USING (session)
      GROUP BY flag, variant
      ORDER BY sessions DESC, flag, variant
      LIMIT ${MAX_VARIANTS}
      SETTINGS max_execution_time = ${MAX_SECONDS}`,
      params,
    )
    if (variants.length === 0) return { variants, flows: [] }
    const flows = await db.rows<CohortFlow>(
      `SELECT s.flag AS flag, s.variant AS variant, f.kind AS kind, f.flow AS flow, count() AS sessions, countIf(f.fl > 0) AS failed
      FROM (${FLAGS}) AS s
      INNER JOIN (${ofRelease(SESSION_FLOWS, ['kind', 'flow'], 'sum(failures) AS fl')}) AS f USING (session)
      WHERE has(arrayZip({flags:Array(String)}, {variants:Array(String)}), (flag, variant))
      GROUP BY flag, variant, kind, flow
      ORDER BY flag, variant, kind, flow
      SETTINGS max_execution_time = ${MAX_SECONDS}`,
      { ...params, flags: variants.map((v) => v.flag), variants: variants.map((v) => v.variant) },
    )
    return { variants, flows }
  }

export const cohortReads = (db: Db) => ({ releaseCohorts: releaseCohorts(db) })
