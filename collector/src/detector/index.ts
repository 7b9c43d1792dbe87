import { createHash } from 'node:crypto'
import type { Outbox } from '../notify/outbox.js'
import type { AlertMessage } from '../notify/types.js'
import { APPEARED_BEFORE_ARRIVAL_MS, type AlertRow, type AlertStore, type DetectorReads, type ReleaseSummary } from '../store/index.js'
import type { OriginalFrame } from '../grouping/symbolicate.js'
import { defaultRuleOptions, evaluateRelease, evaluateVital, newInRelease, type BaselineInfo, type Finding, type RuleOptions, type WindowData } from './rules.js'
import { iso } from '../lib/iso.js'

export type DetectorOptions = {
  intervalMs: number
  /** How far back a look reaches for a release (its window starts at its first event, or this long ago). */
  windowMs: number
  /** Releases with an event this recent are looked at. */
  liveMs: number
  /** When no other release is live, the previous release's history over this span before the release appeared. */
  previousHistoryMs: number
  /** A firing alert resolves when this recent span says the release is healthy again on that rule... */
  recoveryMs: number
  /** ...and it has fired at least this long (hysteresis: no flapping). */
  minFiringMs: number
  /** ...or the release has had no traffic for this long (rolled back). */
  noTrafficMs: number
  /** A verdict of healthy needs at least this many sessions. */
  minVerdictSessions: number
  /**
   * The concurrent baseline covers at least this much recent time, even when the release is
   * younger: a new release is compared with enough of the old one's sessions for the baseline's
   * own noise to be small, from close enough in time for time of day not to matter.
   */
  baselineMinMs: number
  /** A look judges at most this many releases of one environment (those with an alert firing, then the most sessions, first)... */
  maxReleasesPerEnvironment: number
  /** ...in at most this many environments of a project (ranked alike); the rest is counted (onSkipped). */
  maxEnvironments: number
  rules: RuleOptions
}

export const defaultDetectorOptions: DetectorOptions = {
  intervalMs: 5000,
  windowMs: 6 * 3600_000,
  liveMs: 30 * 60_000,
  previousHistoryMs: 6 * 3600_000,
  recoveryMs: 10 * 60_000,
  minFiringMs: 2 * 60_000,
  noTrafficMs: 15 * 60_000,
  minVerdictSessions: 30,
  baselineMinMs: 30 * 60_000,
  maxReleasesPerEnvironment: 50,
  maxEnvironments: 20,
  rules: defaultRuleOptions,
}

export type Verdict = {
  project: string
  environment: string
  release: string
  verdict: 'healthy' | 'watching' | 'bad' | 'unknown'
  reasons: string[]
  baseline: BaselineInfo | null
  sessions: number
  evaluated_at: string
}

/** What an alert says (stored with it as JSON). */
export const alertPayload = (a: AlertRow): { severity?: string; summary?: string } => {
  try {
    return JSON.parse(a.payload) as { severity?: string; summary?: string }
  } catch {
    return {}
  }
}
export const alertSummary = (a: AlertRow): string => alertPayload(a).summary ?? `${a.rule} ${a.subject}`

export type DetectorDeps = {
  store: DetectorReads
  /** Where the detector keeps its alerts (read back at start). */
  alertStore: Pick<AlertStore, 'alerts' | 'saveAlert'>
  outbox: Outbox
  projectIds: () => string[]
  /** Base of the links put in alerts. */
  publicUrl: () => string
  log: { info: (msg: string) => void; warn: (obj: unknown, msg: string) => void }
  /** The clock (a benchmark runs a virtual one). */
  now?: () => number
  /** Told after every look (the live feed). */
  onLook?: (at: number) => void
  /** Told after every scheduled look, done or failed, with how long it took (metrics). */
  onLookDone?: (ok: boolean, seconds: number) => void
  /** Told after a look left live releases unjudged (maxReleasesPerEnvironment, maxEnvironments), how many. */
  onSkipped?: (releases: number) => void
  /** Told at every alert change, with its summary (the live feed). */
  onAlert?: (a: AlertRow, summary: string) => void
  /** A release's stack with its original frames, from its source maps (frames as they are without). */
  symbolicate?: (project: string, release: string, stack: string) => Promise<OriginalFrame[]>
}

/** Frames an alert carries per error: enough to see where, not a whole stack trace. */
const ALERT_FRAMES = 10

const pct = (n: number) => `${(n * 100).toFixed(1)}%`

/** A stable key per project, environment, release, rule and subject: one alert, however often it is seen. */
export const dedupKey = (project: string, env: string, release: string, rule: string, subject: string) =>
  [project, env, release, rule, subject].map(encodeURIComponent).join('/')

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

/**
 * Every few seconds, for each project, environment and live release: every rule (each flow's
 * failure rate, the crash rate, new error groups, web vitals) against the release's baseline,
 * with a sequential test whose false-alarm rate holds however often it looks. Alerts go firing
 * → resolved, with hysteresis; they are stored, so a restart neither loses nor re-sends them,
 * and handed to the notifiers' outbox. Each look also leaves a verdict per release.
 */
export const createDetector = (deps: DetectorDeps, options: Partial<DetectorOptions> = {}) => {
  const opts = { ...defaultDetectorOptions, ...options }
  const clock = deps.now ?? Date.now
  const alerts = new Map<string, AlertRow>()
  const verdicts = new Map<string, Verdict>()
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  let stopped = false
  let loaded = false

  const load = async () => {
    for (const a of await deps.alertStore.alerts()) alerts.set(a.dedup_key, a)
    // Alerts whose messages were not handed to the outbox before a stop: hand them now.
    for (const a of alerts.values()) if (!a.notified) await announce(a)
    loaded = true
  }

  const messageFor = (a: AlertRow): AlertMessage => ({
    id: `msg_${createHash('sha256').update(a.dedup_key).digest('hex').slice(0, 20)}_${a.fired_at}_${a.status}`,
    type: `release.regression.${a.status}`,
    at: a.status === 'firing' ? a.fired_at : (a.resolved_at ?? a.updated),
    data: JSON.parse(a.payload) as Record<string, unknown>,
  })

  /** Hands the alert's current state to the outbox, once. */
  const announce = async (a: AlertRow) => {
    // The outbox skips deliveries it already has: a restart writes no message twice.
    await deps.outbox.enqueue(messageFor(a), a.dedup_key, a.project)
    a.notified = 1
    a.updated = clock()
    await deps.alertStore.saveAlert(a)
  }

  const firingFor = (project: string, env: string, release: string) =>
    [...alerts.values()].filter((a) => a.project === project && a.env === env && a.release === release && a.status === 'firing')

  const save = async (a: AlertRow) => {
    alerts.set(a.dedup_key, a)
    await deps.alertStore.saveAlert(a)
    await announce(a)
    deps.onAlert?.(a, alertSummary(a))
  }

  /** The original frames of a stack, or none when they cannot be had now (storage away): the minified stack still goes. */
  const framesOf = async (project: string, release: string, stack: string): Promise<OriginalFrame[]> => {
    try {
      return ((await deps.symbolicate?.(project, release, stack)) ?? []).slice(0, ALERT_FRAMES)
    } catch (err) {
      deps.log.warn({ err }, 'alert: stack not symbolicated')
      return []
    }
  }

  const fire = async (project: string, env: string, release: string, f: Finding, cur: WindowData, older: ReadonlySet<string>, now: number) => {
    const key = dedupKey(project, env, release, f.rule, f.subject)
    const summary = describe(release, f)
    const topErrors = await Promise.all(
      cur.groups
        .filter((g) => g.release === release)
        .slice(0, 3)
        .map(async (g) => {
          const frames = await framesOf(project, release, g.stack)
          return {
            fingerprint: g.fingerprint,
            type: g.type,
            message: g.message,
            // Where it broke, in the original source when the release has maps; the stack as sent stays.
            frames,
            symbolicated: frames.some((x) => x.mapped),
            stack: g.stack.slice(0, 4000),
            sessions: g.sessions,
            new_in_release: newInRelease(g, older),
          }
        }),
    )
    const data = {
      alert_id: key,
      status: 'firing',
      severity: f.severity,
      project,
      environment: env,
      release,
      rule: f.rule,
      subject: f.subject,
      ...(f.rule === 'flow_failure' || f.rule === 'flow_threshold' ? { flow: f.subject } : {}),
      summary,
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
      dashboard_url: `${deps.publicUrl()}/releases/${encodeURIComponent(release)}?project=${encodeURIComponent(project)}&env=${encodeURIComponent(env)}`,
    }
    const row: AlertRow = { project, dedup_key: key, env, release, rule: f.rule, subject: f.subject, status: 'firing', fired_at: now, resolved_at: null, notified: 0, payload: JSON.stringify(data), updated: now }
    deps.log.info(`alert firing: ${summary}`)
    await save(row)
  }

  const resolve = async (a: AlertRow, reason: string, now: number) => {
    const data: Record<string, unknown> = { ...(JSON.parse(a.payload) as Record<string, unknown>), status: 'resolved', resolved_at: iso(now), resolution: reason }
    deps.log.info(`alert resolved (${reason}): ${String(data.summary)}`)
    await save({ ...a, status: 'resolved', resolved_at: now, notified: 0, payload: JSON.stringify(data), updated: now })
  }

  /** One look at every project. */
  const evaluate = async (now = clock()) => {
    if (!loaded) await load()
    for (const project of deps.projectIds()) await look(project, now)
    deps.onLook?.(now)
  }

  /**
   * The releases a look judges: those with an event within liveMs or an alert firing, at most
   * maxReleasesPerEnvironment in an environment and maxEnvironments environments (those with an
   * alert firing first, then those with the most sessions). How many it leaves is told.
   */
  const judged = (project: string, releases: ReleaseSummary[], now: number): Set<ReleaseSummary> => {
    const firing = new Set([...alerts.values()].filter((a) => a.project === project && a.status === 'firing').map((a) => `${a.env}\u0000${a.release}`))
    type Ranked = { firing: boolean; sessions: number }
    const ranked = <T extends Ranked>(xs: T[]) => xs.sort((a, b) => Number(b.firing) - Number(a.firing) || b.sessions - a.sessions)
    const envs = new Map<string, (Ranked & { r: ReleaseSummary })[]>()
    for (const r of releases) {
      const x = { r, firing: firing.has(`${r.env}\u0000${r.release}`), sessions: r.sessions }
      if (r.lastSeen < now - opts.liveMs && !x.firing) continue
      const live = envs.get(r.env)
      if (live) live.push(x)
      else envs.set(r.env, [x])
    }
    const chosen = new Set<ReleaseSummary>()
    let skipped = 0
    const byEnv = ranked([...envs.values()].map((live) => ({ live, firing: live.some((x) => x.firing), sessions: live.reduce((n, x) => n + x.sessions, 0) })))
    for (const [i, { live }] of byEnv.entries()) {
      const take = i < opts.maxEnvironments ? opts.maxReleasesPerEnvironment : 0
      for (const x of ranked(live).slice(0, take)) chosen.add(x.r)
      skipped += Math.max(0, live.length - take)
    }
    if (skipped > 0) deps.onSkipped?.(skipped)
    return chosen
  }

  /**
   * One project: each release judged against its baseline. The windows releases share (the
   * whole window, the baseline's shortest span) are read once per look; a window of one release
   * is read for it and let go with it. So a look holds a few windows at a time and costs reads
   * in proportion to the releases it judges, however many releases there are.
   */
  const look = async (project: string, now: number) => {
    const releases = await deps.store.releases(project)
    const chosen = judged(project, releases, now)
    const whole = now - opts.windowMs
    const shared = (from: number, to: number) => to === now && (from === whole || from === now - opts.baselineMinMs)
    const once = <T>(cache: Map<string, Promise<T>>, key: string, read: () => Promise<T>) => {
      if (!cache.has(key)) cache.set(key, read())
      return cache.get(key)!
    }
    const windows = new Map<string, Promise<{ health: WindowData['health']; flows: WindowData['flows'] }>>()
    const fetch = (from: number, to: number) => {
      const read = () => Promise.all([deps.store.sessionHealth(project, from, to), deps.store.flowHealth(project, from, to)]).then(([health, flows]) => ({ health, flows }))
      return shared(from, to) ? once(windows, `${from}`, read) : read()
    }
    /** Health and flows of one environment over a window (what a baseline reads). */
    const counts = async (env: string, from: number, to: number): Promise<Omit<WindowData, 'groups'>> => {
      const w = await fetch(from, to)
      return { from, to, health: w.health.filter((h) => h.env === env), flows: w.flows.filter((f) => f.env === env) }
    }
    const groups = new Map<string, ReturnType<DetectorReads['errorGroups']>>()
    /** Counts and error groups (what the release itself is judged on). */
    const windowData = async (env: string, from: number, to: number): Promise<WindowData> => {
      const read = () => deps.store.errorGroups(project, env, from, to)
      const [c, g] = await Promise.all([counts(env, from, to), to === now && from === whole ? once(groups, env, read) : read()])
      return { ...c, groups: g }
    }
    const vitals = new Map<string, ReturnType<DetectorReads['vitals']>>()
    /** Vital stats of every release over a window. */
    const vitalStats = (from: number, to: number) => {
      const read = () => deps.store.vitals(project, from, to)
      return to === now && from === whole ? once(vitals, '', read) : read()
    }

    for (const r of releases) {
      if (!chosen.has(r)) continue
      const firingHere = firingFor(project, r.env, r.release)
      const start = Math.max(r.firstSeen, whole)
      // No row of a release precedes its firstSeen, unless that was cut to
      // APPEARED_BEFORE_ARRIVAL_MS before it arrived (events dated earlier): its rows since
      // `start` are then its rows over the whole window, which every release shares.
      const own = start === whole || r.firstSeen > r.arrived - APPEARED_BEFORE_ARRIVAL_MS ? whole : start
      const cur = { ...(await windowData(r.env, own, now)), from: start }
      // The releases that arrived before this one; the newest of them is "the previous release".
      const earlier = releases.filter((o) => o.env === r.env && o.arrived < r.arrived).sort((a, b) => b.arrived - a.arrived)
      const older = new Set(earlier.map((o) => o.release))
      const previous = earlier[0]
      const prev = previous
        ? { ...(await counts(r.env, r.firstSeen - opts.previousHistoryMs, r.firstSeen)), release: previous.release }
        : undefined
      const base = await counts(r.env, Math.min(start, now - opts.baselineMinMs), now)
      const findings = evaluateRelease(r.release, cur, prev, opts.rules, older, base)
      findings.push(...(await vitalFindings(project, r, cur, prev, older, vitalStats, whole, now)))

      for (const f of findings) {
        const key = dedupKey(project, r.env, r.release, f.rule, f.subject)
        const a = alerts.get(key)
        if (a?.status === 'firing') continue
        // After a resolution, only what happened since counts.
        let g: Finding | undefined = f
        if (a?.status === 'resolved' && a.resolved_at && a.resolved_at > start) {
          const since = await windowData(r.env, a.resolved_at, now)
          g = evaluateRelease(r.release, since, prev, opts.rules, older, base).find((x) => x.rule === f.rule && x.subject === f.subject)
        }
        if (g?.decision === 'bad') await fire(project, r.env, r.release, g, cur, older, now)
      }

      for (const a of firingHere) {
        if (now - a.fired_at < opts.minFiringMs) continue
        const recent = await windowData(r.env, Math.max(a.fired_at, now - opts.recoveryMs), now)
        const f = evaluateRelease(r.release, recent, prev, opts.rules, older, base).find((x) => x.rule === a.rule && x.subject === a.subject)
        if (f?.decision === 'healthy') await resolve(a, 'recovered: the recent data says healthy', now)
        else if (now - r.lastSeen >= opts.noTrafficMs) await resolve(a, 'the release has had no traffic (rolled back?)', now)
      }

      verdicts.set(`${project}\u0000${r.env}\u0000${r.release}`, verdictFor(project, r, findings, now))
    }
  }

  const vitalFindings = async (
    project: string,
    r: ReleaseSummary,
    cur: WindowData,
    prev: (Omit<WindowData, 'groups'> & { release: string }) | undefined,
    older: Set<string>,
    vitalStats: (from: number, to: number) => ReturnType<DetectorReads['vitals']>,
    whole: number,
    now: number,
  ): Promise<Finding[]> => {
    // A release without enough samples over the whole window has none since its start: nothing more to read.
    if (!(await vitalStats(whole, now)).some((v) => v.env === r.env && v.release === r.release && v.samples >= 50)) return []
    const stats = (await vitalStats(cur.from, cur.to)).filter((v) => v.env === r.env)
    // The previous release's stats, read at most once (only when some vital has no concurrent baseline).
    let prevStats: Awaited<ReturnType<DetectorReads['vitals']>> | undefined
    const out: Finding[] = []
    for (const mine of stats.filter((v) => v.release === r.release && v.samples >= 50)) {
      // The baseline's p75: the other live release with the most samples, else the previous release's.
      let base = stats.filter((v) => v.name === mine.name && older.has(v.release) && v.samples >= 50).sort((a, b) => b.samples - a.samples)[0]
      let info: BaselineInfo = { kind: 'concurrent', releases: base ? [base.release] : [], from: cur.from, to: cur.to }
      if (!base && prev) {
        prevStats ??= (await vitalStats(prev.from, prev.to)).filter((v) => v.env === r.env && v.release === prev.release)
        base = prevStats.find((v) => v.name === mine.name && v.samples >= 50)
        info = { kind: 'previous', releases: [prev.release], from: prev.from, to: prev.to }
      }
      if (!base) continue
      const above = await deps.store.vitalAbove(project, r.env, r.release, mine.name, base.p75, cur.from, cur.to)
      out.push(evaluateVital(mine.name, above, base.p75, { ...info, samples: base.samples }, opts.rules))
    }
    return out
  }

  const verdictFor = (project: string, r: ReleaseSummary, findings: Finding[], now: number): Verdict => {
    const crash = findings.find((f) => f.rule === 'crash_rate')
    const sessions = crash?.metric.sessions ?? 0
    const base = { project, environment: r.env, release: r.release, sessions, evaluated_at: iso(now), baseline: crash?.baseline ?? null }
    const bad = firingFor(project, r.env, r.release)
      .map(alertPayload)
      .filter((p) => p.severity === 'critical')
    if (bad.length > 0) return { ...base, verdict: 'bad', reasons: bad.map((p) => String(p.summary)) }
    const critical = findings.filter((f) => f.severity === 'critical')
    if (sessions === 0) return { ...base, verdict: 'unknown', reasons: ['no sessions of this release yet'] }
    if (critical.every((f) => f.decision === 'unknown'))
      return { ...base, verdict: 'unknown', reasons: ['no baseline: no other release is live, and no earlier release has recent history'] }
    if (sessions < opts.minVerdictSessions)
      return { ...base, verdict: 'watching', reasons: [`${sessions} sessions so far; a verdict needs ${opts.minVerdictSessions}`] }
    const open = critical.filter((f) => f.decision !== 'healthy')
    if (open.length === 0) return { ...base, verdict: 'healthy', reasons: critical.map((f) => `healthy: ${describe(r.release, f)}`) }
    return { ...base, verdict: 'watching', reasons: open.map((f) => `${f.decision === 'unknown' ? 'no baseline' : 'not decided yet'}: ${describe(r.release, f)}`) }
  }

  // When the last scheduled look completed (epoch ms; the start until the first): /healthz says
  // the detector is behind when looks stop completing.
  let lastDone = Date.now()
  const loop = () => {
    if (stopped) return
    const started = performance.now()
    running = evaluate()
      .then(
        () => {
          lastDone = Date.now()
          deps.onLookDone?.(true, (performance.now() - started) / 1000)
        },
        (err: unknown) => {
          deps.log.warn({ err }, 'detector look failed')
          deps.onLookDone?.(false, (performance.now() - started) / 1000)
        },
      )
      .finally(() => {
        running = undefined
        if (!stopped) timer = setTimeout(loop, opts.intervalMs)
      })
  }

  return {
    start: () => {
      timer = setTimeout(loop, opts.intervalMs)
    },
    stop: async () => {
      stopped = true
      clearTimeout(timer)
      await running
    },
    evaluate,
    /** How long ago the last scheduled look completed, and how often looks are due (ms). */
    lag: () => ({ sinceLastLook: Date.now() - lastDone, intervalMs: opts.intervalMs }),
    firing: () => [...alerts.values()].filter((a) => a.status === 'firing'),
    /** The last look's verdict for a release, if it was looked at. */
    verdict: (project: string, env: string, release: string) => verdicts.get(`${project}\u0000${env}\u0000${release}`),
  }
}
export type Detector = ReturnType<typeof createDetector>
