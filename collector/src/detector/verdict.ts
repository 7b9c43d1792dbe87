import { iso } from '../lib/iso.js'
import type { AlertRow, ReleaseSummary } from '../store/index.js'
import { alertPayload, describe } from './payload.js'
import type { Cohort } from './cohorts.js'
import type { BaselineInfo, Finding } from './rules.js'

export type Verdict = {
  project: string
  environment: string
  release: string
  /** For a feature-flag cohort's verdict: the flag and its variant (judged against the flag's other variants). */
  flag?: string
  variant?: string
  verdict: 'healthy' | 'watching' | 'bad' | 'unknown'
  reasons: string[]
  baseline: BaselineInfo | null
  sessions: number
  evaluated_at: string
}

export type VerdictInput = {
  project: string
  release: ReleaseSummary
  /** A cohort of the release (its verdict against the flag's other variants), or the release itself. */
  cohort?: Cohort | undefined
  /** What the look found on the release. */
  findings: Finding[]
  /** The release's alerts firing. */
  firing: AlertRow[]
  now: number
  /** A verdict of healthy needs at least this many sessions. */
  minVerdictSessions: number
}

/** A release's verdict: bad while a critical alert fires; healthy once every critical rule says so on enough sessions. */
export const verdictFor = ({ project, release: r, cohort, findings, firing, now, minVerdictSessions }: VerdictInput): Verdict => {
  const crash = findings.find((f) => f.rule === 'crash_rate')
  const sessions = crash?.metric.sessions ?? 0
  const base = { project, environment: r.env, release: r.release, ...cohort, sessions, evaluated_at: iso(now), baseline: crash?.baseline ?? null }
  const bad = firing.map(alertPayload).filter((p) => p.severity === 'critical')
  if (bad.length > 0) return { ...base, verdict: 'bad', reasons: bad.map((p) => String(p.summary)) }
  // What healthy waits for: the crash rate, the flows, new error groups. An endpoint counts
  // against a release (its alert makes it bad) but does not hold it from healthy: a release calls
  // endpoints no older release called (no baseline) and endpoints too quiet to decide.
  const critical = findings.filter((f) => f.severity === 'critical' && f.rule !== 'request_failure')
  if (sessions === 0) return { ...base, verdict: 'unknown', reasons: [cohort ? 'no sessions of this variant yet' : 'no sessions of this release yet'] }
  if (critical.every((f) => f.decision === 'unknown'))
    return { ...base, verdict: 'unknown', reasons: [cohort ? 'no baseline: no other variant of the flag has enough sessions' : 'no baseline: no other release is live, and no earlier release has recent history'] }
  if (sessions < minVerdictSessions) return { ...base, verdict: 'watching', reasons: [`${sessions} sessions so far; a verdict needs ${minVerdictSessions}`] }
  const open = critical.filter((f) => f.decision !== 'healthy')
  if (open.length === 0) return { ...base, verdict: 'healthy', reasons: critical.map((f) => `healthy: ${describe(r.release, f, cohort)}`) }
  return { ...base, verdict: 'watching', reasons: open.map((f) => `${f.decision === 'unknown' ? 'no baseline' : 'not decided yet'}: ${describe(r.release, f, cohort)}`) }
}
