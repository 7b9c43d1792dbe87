import { groupBy } from '../lib/groupBy.js'
import { createLoop } from '../lib/loop.js'
import type { Outbox } from '../notify/outbox.js'
import type { AlertRow, AlertStore, DetectorReads, ReleaseSummary } from '../store/index.js'
import type { OriginalFrame } from '../grouping/symbolicate.js'
import { alertWriter } from './alerts.js'
import { alertPayload } from './payload.js'
import { cohortKey, flagsOf, type Cohort } from './cohorts.js'
import { applyAssessment, assessCohort, assessRelease } from './judge.js'
import { lookReads, type LookReads, type PastWindows } from './loader.js'
import { chooseReleases, windowReader, type WindowReader } from './look.js'
import { sessionMemory } from './sessions.js'
import { defaultRuleOptions, type RuleOptions } from './rules.js'
import type { Verdict } from './verdict.js'

export { alertPayload, alertSummary, dedupKey, describe, type AlertPayload } from './payload.js'
export type { Cohort } from './cohorts.js'
export type { Verdict } from './verdict.js'

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

/** A look every intervalMs after the last one ended, until stopped. */
const scheduled = (look: () => Promise<void>, p: { intervalMs: number; log: DetectorDeps['log']; onLookDone?: DetectorDeps['onLookDone'] }) => {
  // When the last scheduled look completed (epoch ms; the start until the first): /healthz says
  // the detector is behind when looks stop completing.
  let lastDone = Date.now()
  let started = 0
  const seconds = () => (performance.now() - started) / 1000
  const loop = createLoop({
    everyMs: p.intervalMs,
    firstMs: p.intervalMs,
    run: async () => {
      started = performance.now()
      await look()
      lastDone = Date.now()
      p.onLookDone?.(true, seconds())
    },
    onError: (err) => {
      p.log.warn({ err }, 'detector look failed')
      p.onLookDone?.(false, seconds())
    },
  })
  return {
    start: loop.start,
    stop: loop.stop,
    /** How long ago the last scheduled look completed, and how often looks are due (ms). */
    lag: () => ({ sinceLastLook: Date.now() - lastDone, lastLookAt: lastDone, intervalMs: p.intervalMs }),
  }
}

/** Why a cohort's alert resolves when its flag has no other variant left. */
const ALONE = 'no other variant of the flag has sessions to compare with'

const releaseKey = (project: string, env: string, release: string, cohort = '') => `${project}\u0000${env}\u0000${release}\u0000${cohort}`

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
  const writer = alertWriter({ ...deps, store: deps.alertStore, clock, affected: deps.store.affected }, alerts)
  const firing = () => [...alerts.values()].filter((a) => a.status === 'firing')

  const past: PastWindows = new Map()
  // The sessions a look's windows may reach: its whole window, and a previous release's history before a release in it appeared.
  const memory = sessionMemory({ store: deps.store, horizonMs: opts.windowMs + opts.previousHistoryMs, minFailingNetworks: deps.store.minFailingNetworks })

  /** A project's releases, those the look judges, and its windows (through the look's batched reads). */
  const plan = (project: string, releases: ReleaseSummary[], reads: LookReads, now: number) => {
    const firingIn = new Set(firing().filter((a) => a.project === project).map((a) => `${a.env}\u0000${a.release}`))
    const { chosen, skipped } = chooseReleases({ ...opts, releases, firing: firingIn, now })
    if (skipped > 0) deps.onSkipped?.(skipped)
    const reader = windowReader({ reads, project, now, windowMs: opts.windowMs })
    return { project, releases, chosen: releases.filter((r) => chosen.has(r)), reader }
  }

  /**
   * One look at every project. Every release is assessed at once, so each step's reads go as one
   * query per rollup for all releases of all projects; then, in turn, each release's alerts
   * change on its assessment.
   */
  const evaluate = async (now = clock()) => {
    await writer.load()
    const projects = deps.projectIds()
    await writer.refresh(projects)
    // Their sessions since the day the window starts in: enough to rank them, and the cost stays flat in history.
    const releasesOf = groupBy(await deps.store.projectReleases(projects, now - opts.windowMs), (r) => r.project)
    await memory.refresh(projects, now, (p) => (releasesOf.get(p) ?? []).reduce((n, r) => n + r.sessions, 0))
    const reads = lookReads(deps.store, now, past, memory)
    const plans = projects.map((project) => plan(project, releasesOf.get(project) ?? [], reads, now))
    const judged = plans.flatMap(({ project, releases, chosen, reader }) =>
      chosen.map((release) => {
        const alertsOf = alertsAbout(project, release)
        return { project, release, cohort: undefined as Cohort | undefined, alone: false, alertsOf, assessment: assessRelease({ reads, reader, project, release, releases, alertsOf, options: opts }) }
      }),
    )
    // Every release assessed at once (their reads batched), then their cohorts (whose windows
    // the releases' reads have counted); then, in turn, their alerts changed.
    await Promise.allSettled(judged.map((j) => j.assessment))
    const cohorts = (await Promise.all(plans.flatMap(({ project, chosen, reader }) => chosen.map((release) => cohortsOf(project, release, reader))))).flat()
    await Promise.allSettled(cohorts.map((j) => j.assessment))
    const looked = new Set<string>()
    for (const j of [...judged, ...cohorts]) {
      const verdict = await applyAssessment({ ...j, writer, assessment: await j.assessment, options: opts })
      const key = releaseKey(j.project, j.release.env, j.release.release, j.cohort && cohortKey(j.cohort))
      verdicts.set(key, verdict)
      looked.add(key)
      if (j.alone) for (const a of j.alertsOf()) if (a.status === 'firing' && now - a.fired_at >= opts.minFiringMs) await writer.resolve(a, ALONE, now)
    }
    // A cohort no longer judged has no verdict: its last would say what is no longer so.
    for (const k of verdicts.keys()) if (!k.endsWith('\u0000') && !looked.has(k)) verdicts.delete(k)
    // The look's alerts go now, its verdicts published.
    deps.outbox.wake()
    deps.onLook?.(now)
  }

  /** A release's alerts (or those about one of its cohorts) as they are now. */
  const alertsAbout = (project: string, r: ReleaseSummary, cohort?: string) => () =>
    [...alerts.values()].filter((a) => a.project === project && a.env === r.env && a.release === r.release && (cohort === undefined ? !a.cohort : a.cohort === cohort))

  /**
   * A release's cohorts to judge (cohorts.ts): each variant of its flags with two variants or more
   * in its window, and each with an alert firing (judged until it resolves). A variant without a
   * session for noTrafficMs has had no traffic (its alerts resolve as a release's do); one whose
   * flag has no other variant left (`alone`: the flag switched to it for everyone, or away from
   * it long ago) has nothing to be compared with, and its alerts resolve so.
   */
  const cohortsOf = async (project: string, release: ReleaseSummary, reader: WindowReader) => {
    const [whole, recent] = await Promise.all([reader.crashes(Math.max(release.firstSeen, reader.whole), reader.now), reader.crashes(reader.now - opts.noTrafficMs, reader.now)])
    const flags = flagsOf(whole, release.env, release.release)
    const active = flagsOf(recent, release.env, release.release, 1)
    const list = [...flags].flatMap(([flag, variants]) => variants.map((variant) => ({ flag, variant })))
    for (const a of firing().filter((x) => x.project === project && x.env === release.env && x.release === release.release && x.cohort)) {
      const { flag, variant } = alertPayload(a)
      if (flag !== undefined && variant !== undefined && !list.some((c) => c.flag === flag && c.variant === variant)) list.push({ flag, variant })
    }
    return list.map((cohort) => {
      const alertsOf = alertsAbout(project, release, cohortKey(cohort))
      const variants = flags.get(cohort.flag) ?? [cohort.variant]
      const lastSeen = active.get(cohort.flag)?.includes(cohort.variant) ? release.lastSeen : Math.min(release.lastSeen, reader.now - opts.noTrafficMs - 1)
      const r = { ...release, lastSeen }
      return { project, release: r, cohort, alertsOf, alone: variants.length < 2, assessment: assessCohort({ reader, release: r, cohort, variants, alertsOf, options: opts }) }
    })
  }

  const looks = scheduled(() => evaluate(), { intervalMs: opts.intervalMs, log: deps.log, onLookDone: deps.onLookDone })
  return {
    start: looks.start,
    stop: looks.stop,
    evaluate,
    lag: looks.lag,
    firing,
    /** The last look's verdict for a release, or for a cohort of it (`new-auth=on`), if it was looked at. */
    verdict: (project: string, env: string, release: string, cohort?: Cohort) => verdicts.get(releaseKey(project, env, release, cohort && cohortKey(cohort))),
  }
}
export type Detector = ReturnType<typeof createDetector>
