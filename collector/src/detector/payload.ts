/**
 * What an alert says: its payload, stored with it as JSON and sent as the `data` of every message
 * about it (webhook, Slack, PagerDuty, Alertmanager), and the line a person reads.
 */
import type { OriginalFrame } from '../grouping/symbolicate.js'
import { iso } from '../lib/iso.js'
import type { AlertRow, ErrorGroup } from '../store/index.js'
import { newInRelease, type Finding, type Rule, type WindowData } from './rules.js'

export type AlertPayload = {
  /** The alert's dedup key (dedupKey). */
  alert_id: string
  status: AlertRow['status']
  severity: Finding['severity']
  project: string
  environment: string
  release: string
  rule: Rule
  /** The flow, the error group's fingerprint, the vital; '' for the crash rate. */
  subject: string
  /** The subject again, for the flow rules. */
  flow?: string
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
  /** The release's health page. */
  dashboard_url: string
}

const pct = (n: number) => `${(n * 100).toFixed(1)}%`

/** A stable key per project, environment, release, rule and subject: one alert, however often it is seen. */
export const dedupKey = (a: { project: string; env: string; release: string; rule: string; subject: string }) =>
  [a.project, a.env, a.release, a.rule, a.subject].map(encodeURIComponent).join('/')

/** A line a person reads: what, how much, against what. */
export const describe = (release: string, f: Finding): string => {
  const m = f.metric
  const base = f.baseline
    ? `against ${f.rule === 'vital_regression' ? `a p75 of ${Math.round(f.baseline.value)}` : pct(f.baseline.value)} on ${f.baseline.releases.join(', ')} (${f.baseline.kind}${f.rule === 'vital_regression' ? '' : `, ${f.baseline.failed}/${f.baseline.sessions}`})`
    : 'with no baseline'
  switch (f.rule) {
    case 'flow_failure':
      return `${f.subject} failed in ${pct(m.value)} of sessions on ${release} (${m.failed}/${m.sessions}) ${base}`
    case 'flow_threshold':
      return `${f.subject} failed in ${pct(m.value)} of sessions on ${release} (${m.failed}/${m.sessions}), above its limit of ${pct(f.stat.p0)}`
    case 'crash_rate':
      return `${pct(m.value)} of sessions on ${release} had an unhandled error (${m.failed}/${m.sessions}) ${base}`
    case 'new_error_group':
      return `${m.name} in ${pct(m.value)} of sessions on ${release} (${m.failed}/${m.sessions}), seen in no earlier release`
    case 'vital_regression':
      return `${f.subject} on ${release}: ${pct(m.value)} of samples above the baseline's p75 (${m.failed}/${m.sessions}) ${base}`
  }
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
  finding: Finding
  /** The release's window (what it was judged on). */
  cur: WindowData
  topErrors: AlertPayload['top_errors']
  now: number
  /** Base of the links put in alerts. */
  publicUrl: string
}

/** The payload of an alert that fires now on a finding. */
export const firingPayload = ({ project, env, release, finding: f, cur, topErrors, now, publicUrl }: Firing): AlertPayload => ({
  alert_id: dedupKey({ project, env, release, rule: f.rule, subject: f.subject }),
  status: 'firing',
  severity: f.severity,
  project,
  environment: env,
  release,
  rule: f.rule,
  subject: f.subject,
  ...(f.rule === 'flow_failure' || f.rule === 'flow_threshold' ? { flow: f.subject } : {}),
  summary: describe(release, f),
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
