import type { AlertRow, ReleaseSummary } from '../store/index.js'
import type { AlertWriter } from './alerts.js'
import { rereads, transitions, type LifecycleOptions, type Reread } from './lifecycle.js'
import type { LookReads } from './loader.js'
import { releaseWindows, type WindowReader } from './look.js'
import { evaluateRelease, type Finding, type RuleOptions, type WindowData } from './rules.js'
import { verdictFor, type Verdict } from './verdict.js'
import { vitalFindings } from './vitals.js'

export type JudgeOptions = LifecycleOptions & {
  previousHistoryMs: number
  baselineMinMs: number
  minVerdictSessions: number
  rules: RuleOptions
}

export type Judging = {
  reads: Pick<LookReads, 'above'>
  reader: WindowReader
  project: string
  release: ReleaseSummary
  /** Every release of the project. */
  releases: ReleaseSummary[]
  /** The release's alerts as they are now. */
  alertsOf: () => AlertRow[]
  options: JudgeOptions
}

/**
 * What the data says of one release, read only: every rule against its baseline, and the rules
 * judged again on the data since a resolution and on the recent data for an alert that may
 * resolve. The look assesses every release at once, so their reads are batched (loader.ts).
 */
export const assessRelease = async ({ reads, reader, project, release: r, releases, alertsOf, options: o }: Judging) => {
  const { now } = reader
  const { start, cur, older, prev, base } = await releaseWindows({ reader, release: r, releases, previousHistoryMs: o.previousHistoryMs, baselineMinMs: o.baselineMinMs })
  const judge = (window: WindowData) => evaluateRelease({ release: r.release, cur: window, prev, options: o.rules, older, base })
  const findings = judge(cur)
  findings.push(...(await vitalFindings({ above: reads.above, reader, project, release: r, cur, prev, older, options: o.rules })))
  const state = { alerts: alertsOf(), findings, start, now, options: o }
  const again = rereads(state)
  const judgeAgain = async (xs: Reread[]) =>
    new Map<string, Finding[]>(await Promise.all(xs.map(async ({ alert, from }) => [alert.dedup_key, judge(await reader.window(r.env, from, now))] as const)))
  const [sinceResolution, recent] = await Promise.all([judgeAgain(again.sinceResolution), judgeAgain(again.recent)])
  return { ...state, sinceResolution, recent, cur, older }
}
export type Assessment = Awaited<ReturnType<typeof assessRelease>>

/** One release's alerts fired or resolved on its assessment (in turn: they are written), and its verdict. */
export const applyAssessment = async (p: { writer: AlertWriter; project: string; release: ReleaseSummary; assessment: Assessment; alertsOf: () => AlertRow[]; options: JudgeOptions }): Promise<Verdict> => {
  const { writer, project, release: r, assessment: a } = p
  for (const t of transitions({ ...a, lastSeen: r.lastSeen })) {
    if (t.kind === 'fire') await writer.fire({ project, env: r.env, release: r.release, finding: t.finding, cur: a.cur, older: a.older, now: a.now })
    else await writer.resolve(t.alert, t.reason, a.now)
  }
  const firing = p.alertsOf().filter((x) => x.status === 'firing')
  return verdictFor({ project, release: r, findings: a.findings, firing, now: a.now, minVerdictSessions: p.options.minVerdictSessions })
}
