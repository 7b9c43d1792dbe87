/**
 * What an alert says: its payload, stored with it as JSON and sent as the `data` of every message
 * about it (webhook, Slack, PagerDuty, Alertmanager), and the line a person reads.
 */
import type { OriginalFrame } from '../grouping/symbolicate.js'
import { iso } from '../lib/iso.js'
import type { Affected, AlertRow, ErrorGroup, Segment } from '../store/index.js'
import { cohortKey, cohortName, type Cohort } from './cohorts.js'
import { newInRelease, type Finding, type Rule, type WindowData } from './rules.js'
import { wilsonUpper } from './sprt.js'

export type AlertPayload = {
  /** The alert's dedup key (dedupKey). */
  alert_id: string
  status: AlertRow['status']
  severity: Finding['severity']
  project: string
  environment: string
  release: string
  rule: Rule
  /** The flow, the endpoint, the error group's fingerprint, the vital; '' for the crash rate. */
  subject: string
  /** The subject again, for the flow rules. */
  flow?: string
  /** The subject again, for requests: the method and route (`GET /api/plans/:id`). */
  endpoint?: string
  /**
   * For an alert about a feature-flag cohort: the flag and the variant whose sessions failed,
   * judged against the flag's other variants in the same release (`baseline.releases`: those variants).
   */
  flag?: string
  variant?: string
  summary: string
  metric: { name: string; unit: string; value: number; failed_sessions: number; sessions: number }
  baseline: { kind: 'concurrent' | 'previous'; releases: string[]; value: number; failed_sessions: number; sessions: number; from: string; to: string } | null
  statistic: { method: 'sprt'; llr: number; threshold: number; p0: number; p1: number }
  window: { from: string; to: string }
  started_at: string
  fired_at: string
  resolved_at?: string
  /** Why it resolved. */
  resolution?: string
  /** The release's errors with the most sessions, where they broke. */
  top_errors: {
    fingerprint: string
    type: string
    message: string
    /** In the original source when the release has maps. */
    frames: OriginalFrame[]
    symbolicated: boolean
    /** The stack as sent (cut short). */
    stack: string
    sessions: number
    new_in_release: boolean
  }[]
  /** For error groups: what on-call needs to recognise it. */
  sample?: Finding['sample']
  /**
   * Who is affected: the sessions the rule judged in its window and those that failed, and the
   * segments (browser, OS, device, route, the app's tags) most over-represented among the failed
   * ones, each with its share of them and of the sessions; null when not known (web vitals, or
   * storage away when it fired).
   */
  affected: Affected | null
  /** The release's health page. */
  dashboard_url: string
}

const pct = (n: number) => `${(n * 100).toFixed(1)}%`

/** A stable key per project, environment, release, cohort (when about one), rule and subject: one alert, however often it is seen. */
export const dedupKey = (a: { project: string; env: string; release: string; rule: string; subject: string; cohort?: string }) =>
  [a.project, a.env, a.release, a.rule, a.subject, ...(a.cohort ? [a.cohort] : [])].map(encodeURIComponent).join('/')

/**
 * A line a person reads: what, how much, against what. About a cohort: `login failed in 24.0% of
 * sessions on 1.4.2 with new-auth=on (12/50) against 2.0% with new-auth=off (concurrent, 1/50)`.
 */
export const describe = (releaseName: string, f: Finding, cohort?: Cohort): string => {
  const m = f.metric
  const release = cohort ? `${releaseName} with ${cohortName(cohort)}` : releaseName
  const against = (releases: string[]) => (cohort ? `with ${releases.map((variant) => cohortName({ flag: cohort.flag, variant })).join(', ')}` : `on ${releases.join(', ')}`)
  const base = f.baseline
    ? `against ${f.rule === 'vital_regression' ? `a p75 of ${Math.round(f.baseline.value)}` : pct(f.baseline.value)} ${against(f.baseline.releases)} (${f.baseline.kind}${f.rule === 'vital_regression' ? '' : `, ${f.baseline.failed}/${f.baseline.sessions}`})`
    : 'with no baseline'
  switch (f.rule) {
    case 'flow_failure':
      return `${f.subject} failed in ${pct(m.value)} of sessions on ${release} (${m.failed}/${m.sessions}) ${base}`
    case 'request_failure':
      return `${f.subject} failed in ${pct(m.value)} of sessions that called it on ${release} (${m.failed}/${m.sessions}) ${base}`
    case 'flow_threshold':
      return `${f.subject} failed in ${pct(m.value)} of sessions on ${release} (${m.failed}/${m.sessions}), above its limit of ${pct(f.stat.p0)}`
    case 'crash_rate':
      return `${pct(m.value)} of sessions on ${release} had an unhandled error (${m.failed}/${m.sessions}) ${base}`
    case 'new_error_group':
      return `${m.name} in ${pct(m.value)} of sessions on ${release} (${m.failed}/${m.sessions}), seen in no ${cohort ? 'other variant' : 'earlier release'}`
    case 'vital_regression':
      return `${f.subject} on ${release}: ${pct(m.value)} of samples above the baseline's p75 (${m.failed}/${m.sessions}) ${base}`
  }
}

const segmentName = (s: Segment) => (s.dimension === 'tag' ? s.value : `${s.dimension} ${s.value}`)

/**
 * Where the failures concentrate, for the summary: `; mostly browser Firefox 133 (92% of failed
 * sessions, 48% of all)` — the most over-represented segment, named only when its sessions fail
 * clearly more often than the others' (the 95% Wilson bounds of the two rates apart), not when a
 * few sessions happen to fall that way.
 */
export const mostly = (a: Affected | null): string => {
  const top = a?.segments[0]
  if (!a || !top) return ''
  const restFailed = a.failed_sessions - top.failed_sessions
  const restSessions = a.sessions - top.sessions
  const lower = 1 - wilsonUpper(top.sessions - top.failed_sessions, top.sessions)
  if (restSessions <= 0 || lower <= wilsonUpper(restFailed, restSessions)) return ''
  return `; mostly ${segmentName(top)} (${pct(top.failed_share)} of failed sessions, ${pct(top.session_share)} of all)`
}

/** Errors an alert carries: the release's with the most sessions. */
export const TOP_ERRORS = 3

/** One of the release's top errors as an alert carries it, with the frames found for its stack. */
export const topError = (g: ErrorGroup, frames: OriginalFrame[], older: ReadonlySet<string>): AlertPayload['top_errors'][number] => ({
  fingerprint: g.fingerprint,
  type: g.type,
  message: g.message,
  // Where it broke, in the original source when the release has maps; the stack as sent stays.
  frames,
  symbolicated: frames.some((x) => x.mapped),
  stack: g.stack.slice(0, 4000),
  sessions: g.sessions,
  new_in_release: newInRelease(g, older),
})

type Firing = {
  project: string
  env: string
  release: string
  cohort?: Cohort | undefined
  finding: Finding
  /** The release's window (what it was judged on). */
  cur: WindowData
  topErrors: AlertPayload['top_errors']
  affected: Affected | null
  now: number
  /** Base of the links put in alerts. */
  publicUrl: string
}

/** The payload of an alert that fires now on a finding. */
export const firingPayload = ({ project, env, release, cohort, finding: f, cur, topErrors, affected, now, publicUrl }: Firing): AlertPayload => ({
  alert_id: dedupKey({ project, env, release, rule: f.rule, subject: f.subject, cohort: cohort && cohortKey(cohort) }),
  status: 'firing',
  severity: f.severity,
  project,
  environment: env,
  release,
  rule: f.rule,
  subject: f.subject,
  ...(f.rule === 'flow_failure' || f.rule === 'flow_threshold' ? { flow: f.subject } : {}),
  ...(f.rule === 'request_failure' ? { endpoint: f.subject } : {}),
  ...(cohort ? { flag: cohort.flag, variant: cohort.variant } : {}),
  summary: describe(release, f, cohort) + mostly(affected),
  metric: { name: f.metric.name, unit: f.metric.unit, value: f.metric.value, failed_sessions: f.metric.failed, sessions: f.metric.sessions },
  baseline: f.baseline && {
    kind: f.baseline.kind,
    releases: f.baseline.releases,
    value: f.baseline.value,
    failed_sessions: f.baseline.failed,
    sessions: f.baseline.sessions,
    from: iso(f.baseline.from),
    to: iso(f.baseline.to),
  },
  statistic: { method: 'sprt', llr: f.stat.llr, threshold: f.stat.upper, p0: f.stat.p0, p1: f.stat.p1 },
  window: { from: iso(cur.from), to: iso(cur.to) },
  started_at: iso(cur.from),
  fired_at: iso(now),
  top_errors: topErrors,
  ...(f.sample ? { sample: f.sample } : {}),
  affected,
  dashboard_url: `${publicUrl}/releases/${encodeURIComponent(release)}?project=${encodeURIComponent(project)}&env=${encodeURIComponent(env)}`,
})

/** A firing alert's payload once it resolved: its status, when and why (added last). */
export const resolvedPayload = (p: AlertPayload, now: number, reason: string): AlertPayload => ({ ...p, status: 'resolved', resolved_at: iso(now), resolution: reason })

/** A stored alert's payload; throws when it is not JSON. */
export const parsePayload = (a: AlertRow): AlertPayload => JSON.parse(a.payload) as AlertPayload

/** A stored alert's payload, or nothing of it when it cannot be read. */
export const alertPayload = (a: AlertRow): Partial<AlertPayload> => {
  try {
    return parsePayload(a)
  } catch {
    return {}
  }
}

export const alertSummary = (a: AlertRow): string => alertPayload(a).summary ?? `${a.rule} ${a.subject}`
