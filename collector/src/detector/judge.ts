import type { AlertRow, ReleaseSummary } from '../store/index.js'
import type { AlertWriter } from './alerts.js'
import { rereads, transitions, type LifecycleOptions, type Reread } from './lifecycle.js'
import type { LookReads } from './loader.js'
import { cohortEnv, seenInCohort, type Cohort } from './cohorts.js'
import { releaseWindows, type ReleaseWindows, type WindowReader } from './look.js'
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

/** What a release (or a cohort) is judged on: its windows, and what else the look found on it. */
type Judgement = {
  reader: WindowReader
  release: string
  windows: ReleaseWindows
  /** A window of the release's environment, as its rules read it (again for the alerts that may change). */
  read: (from: number) => Promise<WindowData>
  extra: Finding[]
  alerts: AlertRow[]
  options: JudgeOptions
}

/** Every rule against its baseline, and the rules judged again on the data since a resolution and on the recent data for an alert that may resolve. */
const assess = async ({ reader, release, windows: { start, cur, older, prev, base }, read, extra, alerts, options: o }: Judgement) => {
  const { now } = reader
  const judge = (window: WindowData) => evaluateRelease({ release, cur: window, prev, options: o.rules, older, base })
  const findings = [...judge(cur), ...extra]
  const state = { alerts, findings, start, now, options: o }
  const again = rereads(state)
  const judgeAgain = async (xs: Reread[]) => new Map<string, Finding[]>(await Promise.all(xs.map(async ({ alert, from }) => [alert.dedup_key, judge(await read(from))] as const)))
  const [sinceResolution, recent] = await Promise.all([judgeAgain(again.sinceResolution), judgeAgain(again.recent)])
  return { ...state, sinceResolution, recent, cur, older }
}

/**
 * What the data says of one release, read only (assess). The look assesses every release at
 * once, so their reads are batched (loader.ts).
 */
export const assessRelease = async ({ reads, reader, project, release: r, releases, alertsOf, options: o }: Judging) => {
  const windows = await releaseWindows({ reader, release: r, releases, previousHistoryMs: o.previousHistoryMs, baselineMinMs: o.baselineMinMs })
  const { cur, prev, older } = windows
  const extra = await vitalFindings({ above: reads.above, reader, project, release: r, cur, prev, older, options: o.rules })
  return assess({ reader, release: r.release, windows, read: (from) => reader.window(r.env, from, reader.now), extra, alerts: alertsOf(), options: o })
}

/**
 * What the data says of one variant of a release's flag (cohorts.ts), read only: judged as a
 * release against the flag's other variants (`variants`) in the release's window, every rule but
 * web vitals; its error groups are new when the other variants did not have them.
 */
export const assessCohort = async (p: { reader: WindowReader; release: ReleaseSummary; cohort: Cohort; variants: string[]; alertsOf: () => AlertRow[]; options: JudgeOptions }) => {
  const { reader, release: r, cohort } = p
  const env = cohortEnv(r.env, r.release, cohort.flag)
  const start = Math.max(r.firstSeen, reader.whole)
  const whole = await reader.window(env, start, reader.now)
  const seen = seenInCohort(whole, p.options.rules.minBaselineSessions)
  const cur = seen(whole)
  const windows = { start, cur, older: new Set(p.variants.filter((v) => v !== cohort.variant)), prev: undefined, base: cur }
  const read = async (from: number) => seen(await reader.window(env, from, reader.now))
  // No absolute limits (VIGIL_FLOW_THRESHOLDS): the release's own alert says a flow is past its limit, not one per variant.
  const options = { ...p.options, rules: { ...p.options.rules, flowThresholds: {} } }
  return assess({ reader, release: cohort.variant, windows, read, extra: [], alerts: p.alertsOf(), options })
}
export type Assessment = Awaited<ReturnType<typeof assessRelease>>

/** One release's (or a cohort's of it) alerts fired or resolved on its assessment (in turn: they are written), and its verdict. */
export const applyAssessment = async (p: {
  writer: AlertWriter
  project: string
  release: ReleaseSummary
  cohort?: Cohort
  assessment: Assessment
  alertsOf: () => AlertRow[]
  options: JudgeOptions
}): Promise<Verdict> => {
  const { writer, project, release: r, cohort, assessment: a } = p
  for (const t of transitions({ ...a, lastSeen: r.lastSeen })) {
    if (t.kind === 'fire') await writer.fire({ project, env: r.env, release: r.release, cohort, finding: t.finding, cur: a.cur, older: a.older, now: a.now })
    else await writer.resolve(t.alert, t.reason, a.now)
  }
  const firing = p.alertsOf().filter((x) => x.status === 'firing')
  return verdictFor({ project, release: r, cohort, findings: a.findings, firing, now: a.now, minVerdictSessions: p.options.minVerdictSessions })
}
