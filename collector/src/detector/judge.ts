import type { AlertRow, DetectorReads, ReleaseSummary } from '../store/index.js'
import type { AlertWriter } from './alerts.js'
import { rereads, transitions, type LifecycleOptions, type Reread } from './lifecycle.js'
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
  store: DetectorReads
  reader: WindowReader
  writer: AlertWriter
  project: string
  release: ReleaseSummary
  /** Every release of the project. */
  releases: ReleaseSummary[]
  /** The release's alerts as they are now. */
  alertsOf: () => AlertRow[]
  options: JudgeOptions
}

/**
 * One release judged against its baseline on every rule; its alerts fired or resolved on what
 * that finds (rules judged again on the data since a resolution, and on the recent data for an
 * alert that may resolve); its verdict.
 */
export const judgeRelease = async ({ store, reader, writer, project, release: r, releases, alertsOf, options: o }: Judging): Promise<Verdict> => {
  const { now } = reader
  const { start, cur, older, prev, base } = await releaseWindows({ reader, release: r, releases, previousHistoryMs: o.previousHistoryMs, baselineMinMs: o.baselineMinMs })
  const judge = (window: WindowData) => evaluateRelease({ release: r.release, cur: window, prev, options: o.rules, older, base })
  const findings = judge(cur)
  findings.push(...(await vitalFindings({ store, reader, project, release: r, cur, prev, older, options: o.rules })))

  const state = { alerts: alertsOf(), findings, start, now, options: o }
  const reads = rereads(state)
  // Read one after another (chDB runs one query at a time), each window let go once judged.
  const judgeAgain = async (xs: Reread[]) => {
    const found = new Map<string, Finding[]>()
    for (const { alert, from } of xs) found.set(alert.dedup_key, judge(await reader.window(r.env, from, now)))
    return found
  }
  const sinceResolution = await judgeAgain(reads.sinceResolution)
  const recent = await judgeAgain(reads.recent)
  for (const t of transitions({ ...state, sinceResolution, recent, lastSeen: r.lastSeen })) {
    if (t.kind === 'fire') await writer.fire({ project, env: r.env, release: r.release, finding: t.finding, cur, older, now })
    else await writer.resolve(t.alert, t.reason, now)
  }
  const firing = alertsOf().filter((a) => a.status === 'firing')
  return verdictFor({ project, release: r, findings, firing, now, minVerdictSessions: o.minVerdictSessions })
}
