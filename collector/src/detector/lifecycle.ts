/**
 * An alert's life, without I/O: a finding fires once; its alert stays firing at least
 * minFiringMs (hysteresis: no flapping), then resolves when recent data says the release is
 * healthy again on that rule, or when the release has had no traffic for noTrafficMs (rolled
 * back). After a resolution only what happened since counts.
 */
import type { AlertRow } from '../store/index.js'
import type { Finding } from './rules.js'

export type LifecycleOptions = {
  /** A firing alert resolves when this recent span says the release is healthy again on that rule... */
  recoveryMs: number
  /** ...once it has fired this long... */
  minFiringMs: number
  /** ...or once the release has had no traffic for this long. */
  noTrafficMs: number
}

export type Transition = { kind: 'fire'; finding: Finding } | { kind: 'resolve'; alert: AlertRow; reason: string }

export const RECOVERED = 'recovered: the recent data says healthy'
export const NO_TRAFFIC = 'the release has had no traffic (rolled back?)'

const about = (a: Pick<AlertRow, 'rule' | 'subject'>, f: Pick<Finding, 'rule' | 'subject'>) => a.rule === f.rule && a.subject === f.subject

/** A resolved alert that resolved within the release's window: its finding counts only on the data since. */
const resolvedWithin = (a: AlertRow, start: number) => a.status === 'resolved' && !!a.resolved_at && a.resolved_at > start

/** A firing alert that has fired long enough to resolve. */
const mayResolve = (a: AlertRow, now: number, o: Pick<LifecycleOptions, 'minFiringMs'>) => a.status === 'firing' && now - a.fired_at >= o.minFiringMs

export type ReleaseAlerts = {
  /** The release's alerts, whatever their status. */
  alerts: AlertRow[]
  /** What the release's window finds. */
  findings: Finding[]
  /** Where the release's window starts. */
  start: number
  now: number
  options: LifecycleOptions
}

/** An alert, and where the window its rule is judged on again starts (it ends now). */
export type Reread = { alert: AlertRow; from: number }

/**
 * The windows to read before the transitions, in order: for each finding whose alert resolved
 * within the release's window, the data since the resolution; for each firing alert old enough
 * to resolve, the recent span.
 */
export const rereads = ({ alerts, findings, start, now, options }: ReleaseAlerts): { sinceResolution: Reread[]; recent: Reread[] } => ({
  sinceResolution: findings.flatMap((f) => alerts.filter((a) => about(a, f) && resolvedWithin(a, start)).map((a) => ({ alert: a, from: a.resolved_at! }))),
  recent: alerts.filter((a) => mayResolve(a, now, options)).map((a) => ({ alert: a, from: Math.max(a.fired_at, now - options.recoveryMs) })),
})

export type LifecycleInput = ReleaseAlerts & {
  /** What the data since its resolution finds, per alert of `rereads().sinceResolution` (by dedup key). */
  sinceResolution: ReadonlyMap<string, Finding[]>
  /** What the recent data finds, per alert of `rereads().recent` (by dedup key). */
  recent: ReadonlyMap<string, Finding[]>
  /** The release's last event. */
  lastSeen: number
}

/** What changes: the findings that fire (in order), then the firing alerts that resolve. */
export const transitions = (r: LifecycleInput): Transition[] => {
  const { alerts, now, options } = r
  const fire = r.findings.flatMap((f): Transition[] => {
    const a = alerts.find((x) => about(x, f))
    if (a?.status === 'firing') return []
    const g = a && resolvedWithin(a, r.start) ? r.sinceResolution.get(a.dedup_key)?.find((x) => about(a, x)) : f
    return g?.decision === 'bad' ? [{ kind: 'fire', finding: g }] : []
  })
  const resolve = alerts
    .filter((a) => mayResolve(a, now, options))
    .flatMap((a): Transition[] => {
      const f = r.recent.get(a.dedup_key)?.find((x) => about(a, x))
      if (f?.decision === 'healthy') return [{ kind: 'resolve', alert: a, reason: RECOVERED }]
      if (now - r.lastSeen >= options.noTrafficMs) return [{ kind: 'resolve', alert: a, reason: NO_TRAFFIC }]
      return []
    })
  return [...fire, ...resolve]
}
