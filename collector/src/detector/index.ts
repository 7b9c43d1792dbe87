import { createHash } from 'node:crypto'
import type { Metrics } from '../metrics.js'
import { deliver, defaultDelivery, type DeliveryOptions } from '../notify/deliver.js'
import type { AlertMessage, Notifier } from '../notify/types.js'
import type { AlertRow, FlowSessions, Store } from '../store/index.js'
import { defaultSprtParams, sprt, type SprtParams } from './sprt.js'

export type DetectorOptions = {
  intervalMs: number
  /** How far back a look reaches. */
  windowMs: number
  /** A baseline thinner than this gives no verdict. */
  minBaselineSessions: number
  sprt: SprtParams
  delivery: DeliveryOptions
}

export const defaultDetectorOptions: DetectorOptions = {
  intervalMs: 5000,
  windowMs: 6 * 3600_000,
  minBaselineSessions: 20,
  sprt: defaultSprtParams,
  delivery: defaultDelivery,
}

export type DetectorDeps = {
  store: Store
  notifiers: Notifier[]
  metrics: Metrics
  projectIds: () => string[]
  /** Base of the links put in alerts. */
  publicUrl: () => string
  log: { info: (msg: string) => void; warn: (obj: unknown, msg: string) => void }
}

const pct = (n: number) => `${(n * 100).toFixed(1)}%`
const iso = (ms: number) => new Date(ms).toISOString()

/** A stable key per project, environment, release, rule and subject: one alert, however often it is seen. */
export const dedupKey = (project: string, env: string, release: string, rule: string, subject: string) =>
  [project, env, release, rule, subject].map(encodeURIComponent).join('/')

const messageFor = (row: AlertRow): AlertMessage => ({
  id: `msg_${createHash('sha256').update(row.dedup_key).digest('hex').slice(0, 24)}_${row.status}`,
  type: `release.regression.${row.status}`,
  at: row.status === 'firing' ? row.fired_at : (row.resolved_at ?? row.updated),
  data: JSON.parse(row.payload) as Record<string, unknown>,
})

/**
 * Looks every few seconds at each flow of each release against its baseline (the other releases
 * live in the same window) and fires an alert when the SPRT says the release is worse.
 * Firing alerts are stored, so a restart neither loses nor re-sends them; one whose delivery did
 * not finish is sent again after a restart.
 */
export const createDetector = (deps: DetectorDeps, options: Partial<DetectorOptions> = {}) => {
  const opts = { ...defaultDetectorOptions, ...options }
  const firing = new Map<string, AlertRow>()
  const deliveries = new Set<Promise<void>>()
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  let stopped = false
  const abort = new AbortController()

  const notify = (row: AlertRow) => {
    if (deps.notifiers.length === 0) return
    const p = (async () => {
      const warn = (msg: string, err?: unknown) => deps.log.warn({ err }, msg)
      const ok = await deliver(deps.notifiers, messageFor(row), deps.metrics, warn, opts.delivery, abort.signal)
      if (ok && !stopped) {
        row.notified = 1
        row.updated = Date.now()
        await deps.store.saveAlert(row)
      }
    })()
      .catch((err: unknown) => deps.log.warn({ err }, 'recording an alert delivery failed'))
      .finally(() => deliveries.delete(p))
    deliveries.add(p)
  }

  const fire = async (project: string, env: string, flow: string, r: FlowSessions, base: FlowSessions, baseReleases: string[], now: number) => {
    const key = dedupKey(project, env, r.release, 'flow_failure', flow)
    if (firing.has(key)) return
    const stat = sprt(r, base, opts.sprt)
    if (!stat.bad) return
    const rate = r.failed / r.sessions
    const baseRate = base.failed / base.sessions
    const data = {
      alert_id: key,
      status: 'firing',
      severity: 'critical',
      project,
      environment: env,
      release: r.release,
      rule: 'flow_failure',
      flow,
      summary: `${flow} failed in ${pct(rate)} of sessions on ${r.release} (${r.failed}/${r.sessions}) against ${pct(baseRate)} on ${baseReleases.join(', ')} (${base.failed}/${base.sessions})`,
      metric: { name: `${flow} failure rate`, unit: 'share of sessions with the flow failed', value: rate, failed_sessions: r.failed, sessions: r.sessions },
      baseline: { kind: 'concurrent', releases: baseReleases, value: baseRate, failed_sessions: base.failed, sessions: base.sessions },
      statistic: { method: 'sprt', llr: stat.llr, threshold: stat.threshold, p0: stat.p0, p1: stat.p1, alpha: opts.sprt.alpha },
      started_at: iso(r.firstFailure || now),
      fired_at: iso(now),
      dashboard_url: `${deps.publicUrl()}/releases/${encodeURIComponent(r.release)}?env=${encodeURIComponent(env)}`,
    }
    const row: AlertRow = {
      project,
      dedup_key: key,
      env,
      release: r.release,
      rule: 'flow_failure',
      subject: flow,
      status: 'firing',
      fired_at: now,
      resolved_at: null,
      notified: 0,
      payload: JSON.stringify(data),
      updated: now,
    }
    firing.set(key, row)
    await deps.store.saveAlert(row)
    deps.log.info(`alert firing: ${data.summary}`)
    notify(row)
  }

  // The alerts already fired, loaded before the first look: a restart must not fire them again.
  let loaded = false
  const load = async () => {
    for (const a of await deps.store.alerts()) {
      if (a.status !== 'firing') continue
      firing.set(a.dedup_key, a)
      if (!a.notified) notify(a)
    }
    loaded = true
  }

  /** One look at every project's flows. */
  const evaluate = async (now = Date.now()) => {
    if (!loaded) await load()
    const since = now - opts.windowMs
    for (const project of deps.projectIds()) {
      for (const { env, name } of await deps.store.activeFlows(project, since)) {
        const perRelease = await deps.store.flowSessions(project, env, name, since)
        const total = perRelease.reduce((t, r) => ({ sessions: t.sessions + r.sessions, failed: t.failed + r.failed }), { sessions: 0, failed: 0 })
        for (const r of perRelease) {
          if (r.failed < opts.sprt.minFailedSessions) continue
          const base = { release: '', sessions: total.sessions - r.sessions, failed: total.failed - r.failed, firstFailure: 0 }
          if (base.sessions < opts.minBaselineSessions) continue
          const others = perRelease.filter((o) => o !== r).map((o) => o.release)
          await fire(project, env, name, r, base, others, now)
        }
      }
    }
  }

  const loop = () => {
    if (stopped) return
    running = evaluate()
      .catch((err: unknown) => deps.log.warn({ err }, 'detector look failed'))
      .finally(() => {
        running = undefined
        if (!stopped) timer = setTimeout(loop, opts.intervalMs)
      })
  }

  const start = () => {
    timer = setTimeout(loop, opts.intervalMs)
  }

  const stop = async () => {
    stopped = true
    abort.abort()
    clearTimeout(timer)
    await running
    await Promise.all([...deliveries])
  }

  return { start, stop, evaluate, firing: () => [...firing.values()] }
}
export type Detector = ReturnType<typeof createDetector>
