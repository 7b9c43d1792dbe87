/**
 * The web vitals the detector reads from ClickHouse, batched (where the sessions it keeps in
 * memory do not cover a window: detector/vitalMemory.ts counts the same there): every window's
 * (or question's) rows from the per-session vitals rollup of the projects in one query, each
 * sample tested against its own project's windows only.
 */
import type { Db } from './connection.js'
import { at, byWindow, NETWORK, weigh, windowAt, windowParams, windowsWhere, type judgingSql, type Window } from './judgingSql.js'
import { MERGED_SAMPLES, sampleParts } from './rollupViews.js'
import { SESSION_VITALS } from './tables.js'
import type { VitalAbove, VitalStat } from './types.js'

/** How many of a release's samples of a vital in a window are above `threshold` (VitalAbove). */
export type AboveQuestion = Window & { env: string; release: string; name: string; threshold: number }

/**
 * The samples of the windows' projects over their whole span, one row each, with its session's
 * network (`nt`, as the other rules weigh sessions).
 */
const x = sampleParts('x')
const samples = (where = '') => `
        SELECT project, env, release, session, nt, ${x.name} AS name, fromUnixTimestamp64Milli(${x.ms}, 'UTC') AS ts, ${x.value} AS value
        FROM (
          SELECT project, env, release, session, max(net) AS nt, ${MERGED_SAMPLES} AS s
          FROM ${SESSION_VITALS}
          WHERE project IN {projects:Array(String)} AND last_ts >= ${at('since')}
          GROUP BY project, env, release, session
        )
        ARRAY JOIN s AS x
        WHERE ts BETWEEN ${at('since')} AND ${at('until')}${where}`
const IN_WINDOW = `ts >= ${windowAt('wf', 'i')} AND ts <= ${windowAt('wt', 'i')}`

/** Per window, each release's p75 (exact: R7, as vitalMemory.ts's) and samples of each vital. */
const windowVitals = (db: Db) => async (windows: Window[]): Promise<VitalStat[][]> => {
  if (windows.length === 0) return []
  const rows = await db.rows<VitalStat & { win: number }>(
    `SELECT win, env, release, name, quantileExactInclusive(0.75)(value) AS p75, count() AS samples
      FROM (${samples()})
      ARRAY JOIN ${windowsWhere(IN_WINDOW)} AS win
      GROUP BY win, env, release, name`,
    windowParams(windows),
  )
  return byWindow(rows, windows.length)
}

const NOTHING = { sessions: 0, above: 0, judgedSessions: 0, judgedFailed: 0, failedNetworks: 0, topFailed: 0, topSessions: 0 }

/** Per question, its samples above the threshold, per client network weighed (Judged). */
const vitalsAbove = (db: Db, judged: ReturnType<typeof judgingSql>['judged']) => async (questions: AboveQuestion[]): Promise<VitalAbove[]> => {
  if (questions.length === 0) return []
  const rows = await db.rows<Omit<VitalAbove, 'samples'> & { sessions: number; win: number }>(
    `SELECT win, ${judged('above')}
      FROM (
        SELECT win, ${NETWORK} AS src, count() AS n, countIf(value > {qt:Array(Float64)}[win]) AS k, ${weigh}
        FROM (${samples(' AND name IN {names:Array(String)}')})
        ARRAY JOIN ${windowsWhere(`{qe:Array(String)}[i] = env AND {qr:Array(String)}[i] = release AND {qn:Array(String)}[i] = name AND ${IN_WINDOW}`)} AS win
        GROUP BY win, src
      )
      GROUP BY win`,
    {
      ...windowParams(questions),
      names: [...new Set(questions.map((q) => q.name))],
      qe: questions.map((q) => q.env),
      qr: questions.map((q) => q.release),
      qn: questions.map((q) => q.name),
      qt: questions.map((q) => q.threshold),
    },
  )
  const answers = questions.map(() => NOTHING)
  for (const { win, ...r } of rows) answers[win - 1] = r
  return answers.map(({ sessions, ...counts }) => ({ ...counts, samples: sessions }))
}

export const vitalReads = (db: Db, judged: ReturnType<typeof judgingSql>['judged']) => ({ windowVitals: windowVitals(db), vitalsAbove: vitalsAbove(db, judged) })
