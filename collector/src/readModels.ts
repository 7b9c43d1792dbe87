/**
 * What the health page shows, as the read API answers it: the releases view (`GET /v1/overview`)
 * and one release (`GET /v1/releases/:release`). The page's types are these answers' types.
 */
import type { Cohort, Detector } from './detector/index.js'
import { alertPayload, alertSummary } from './detector/payload.js'
import type { Verdict } from './detector/verdict.js'
import { isStackGroup, newInRelease } from './detector/rules.js'
import type { OriginalFrame } from './grouping/symbolicate.js'
import { NotFound } from './errors.js'
import { flowSeries, RANGES, releaseNumbers, type Range } from './releaseNumbers.js'
import { iso } from './lib/iso.js'
import type { ProjectRegistry } from './projects.js'
import type { AlertRow, PageReads } from './store/index.js'
import type { ReleaseCohorts } from './store/cohortReads.js'
import { cohortName } from './detector/cohorts.js'

export type ReadDeps = {
  store: PageReads
  detector: Detector
  projects: ProjectRegistry
  /** A release's stack with its original frames, from its source maps (frames as they are without). */
  symbolicate: (project: string, release: string, stack: string) => Promise<OriginalFrame[]>
}

/** The most error groups one release's page lists. */
const MAX_ERROR_GROUPS = 100
/** The most frames shown of one stack. */
const MAX_FRAMES = 50

/** The detector's verdict on a release, or `unknown` when it has not looked at it lately. */
export const verdictOf = (detector: Detector, project: string, env: string, release: string, cohort?: Cohort): Verdict =>
  detector.verdict(project, env, release, cohort) ?? {
    project,
    environment: env,
    release,
    ...cohort,
    verdict: 'unknown',
    reasons: [
      cohort
        ? `not looked at yet: the detector judges a flag's variants in a live release, once two variants of it have sessions there`
        : 'not looked at yet: the detector looks every few seconds at releases with an event in the last 30 minutes or an alert firing',
    ],
    baseline: null,
    sessions: 0,
    evaluated_at: new Date().toISOString(),
  }

const windowOf = (range: Range) => {
  const to = Date.now()
  return { from: to - RANGES[range].ms, to }
}
const firingIn = (alerts: AlertRow[], env: string) =>
  alerts
    .filter((a) => a.status === 'firing' && a.env === env)
    .map((a) => ({ release: a.release, rule: a.rule, subject: a.subject, summary: alertSummary(a), fired_at: iso(a.fired_at) }))

/** What the page's selectors offer, and the environment asked for (production, when there is one, if none was). */
const choices = async (deps: ReadDeps, project: string, asked: string | undefined) => {
  const environments = await deps.store.environments(project)
  const env = asked ?? (environments.includes('production') ? 'production' : (environments[0] ?? 'production'))
  return {
    env,
    projects: deps.projects.list().map((p) => ({ id: p.id, name: p.name })),
    environments: environments.includes(env) ? environments : [env, ...environments],
  }
}

/** The releases of an environment active in the range with their health against their baseline and their verdicts, the alerts firing, and the selectors' choices. */
export const readOverview = async (deps: ReadDeps, q: { project: string; env?: string; range: Range }) => {
  const { project, range: r } = q
  const { env, projects, environments } = await choices(deps, project, q.env)
  const { from, to } = windowOf(r)
  const [{ releases, more }, alerts] = await Promise.all([releaseNumbers(deps.store, { project, env, from, to }), deps.store.alerts(project)])
  const firing = firingIn(alerts, env)
  return {
    project,
    environment: env,
    range: r,
    window: { from: iso(from), to: iso(to) },
    projects,
    environments,
    flows: [...new Set(releases.flatMap((x) => Object.keys(x.flows)))].sort(),
    vitals: [...new Set(releases.flatMap((x) => Object.keys(x.vitals_p75)))].sort(),
    // Every alert firing in the environment, listed release or not.
    firing,
    releases: releases.map((x) => {
      const v = verdictOf(deps.detector, project, env, x.release)
      return { ...x, verdict: v.verdict, reasons: v.reasons, firing: firing.filter((a) => a.release === x.release) }
    }),
    more_releases: more,
  }
}
export type Overview = Awaited<ReturnType<typeof readOverview>>

/** The cohort an alert is about, as people name it (`new-auth=on`); '' for the whole release. */
const cohortOf = (a: AlertRow) => {
  const { flag, variant } = alertPayload(a)
  return a.cohort && flag !== undefined && variant !== undefined ? cohortName({ flag, variant }) : ''
}

/**
 * A release's feature-flag cohorts as its page shows them: per flag, each variant's sessions,
 * crash rate, flows and endpoints, and its verdict against the flag's other variants.
 */
const cohortsOf = (detector: Detector, r: { project: string; env: string; release: string }, c: ReleaseCohorts) =>
  [...new Set(c.variants.map((v) => v.flag))].map((flag) => ({
    flag,
    variants: c.variants
      .filter((v) => v.flag === flag)
      .map(({ variant, sessions, crashed }) => {
        const verdict = verdictOf(detector, r.project, r.env, r.release, { flag, variant })
        const flows = c.flows.filter((f) => f.flag === flag && f.variant === variant)
        return {
          variant,
          sessions,
          crashed_sessions: crashed,
          crash_rate: sessions ? crashed / sessions : 0,
          verdict: verdict.verdict,
          reasons: verdict.reasons,
          flows: flows.map((f) => ({ flow: f.flow, kind: f.kind, sessions: f.sessions, failed_sessions: f.failed, failure_rate: f.sessions ? f.failed / f.sessions : 0 })),
        }
      }),
  }))

/** One release: its health, each flow per step against its baseline, its error groups (the most sessions first), its alerts with their deliveries, and the selectors' choices. */
export const readRelease = async (deps: ReadDeps, q: { project: string; env?: string; release: string; range: Range }) => {
  const { project, release, range: r } = q
  const { env, projects, environments } = await choices(deps, project, q.env)
  const { from, to } = windowOf(r)
  const [{ releases, active }, groups, alerts, spans, cohorts, clients] = await Promise.all([
    releaseNumbers(deps.store, { project, env, from, to, only: release }),
    deps.store.releaseErrorGroups(project, env, release, from, to, MAX_ERROR_GROUPS),
    deps.store.alerts(project),
    deps.store.releaseSpans(project, env, 0),
    // The page goes without its cohorts when they take too long (cohortReads.ts).
    deps.store.releaseCohorts({ project, env, release, from, to }).catch(() => null),
    // A display line: the page goes without it rather than fail.
    deps.store.releaseClients({ project, env, release, from, to }).catch(() => []),
  ])
  const mine = releases[0]
  const own = alerts.filter((a) => a.env === env && a.release === release).reverse()
  const born = spans.find((x) => x.release === release)?.arrived
  if (!mine && own.length === 0 && born === undefined) throw new NotFound(`No release ${release} in ${project}/${env}`)
  // The releases that arrived before this one (all time): what "new in this release" is against.
  const before = new Set(spans.filter((x) => born !== undefined && x.arrived < born).map((x) => x.release))
  // Stacks with their original frames where the release has maps; without storage now, as sent.
  const frames = await Promise.all(groups.map((g) => deps.symbolicate(project, release, g.stack).then((f) => f.slice(0, MAX_FRAMES), () => [])))
  // The charts start a few steps before the release appeared, when it appeared in the range;
  // their baseline is every older release, step by step.
  const stepS = RANGES[r].stepS
  const first = mine ? Date.parse(mine.first_seen) : from
  const older = born === undefined ? [] : active.filter((x) => x.arrived < born).map((x) => x.release)
  const series = mine ? await flowSeries(deps.store, { project, env, release, baseline: older, from: Math.max(from, first - 5 * stepS * 1000), to, stepS }) : []
  // One query for every alert's deliveries (chDB runs queries one at a time).
  const deliveries = own.length ? await deps.store.deliveries(project, own.map((a) => a.dedup_key)) : []
  return {
    project,
    environment: env,
    release,
    range: r,
    window: { from: iso(from), to: iso(to) },
    projects,
    environments,
    step_s: stepS,
    first_seen: mine?.first_seen ?? null,
    last_seen: mine?.last_seen ?? null,
    sessions: mine?.sessions ?? 0,
    adoption: mine?.adoption ?? 0,
    crash_free_sessions: mine?.crash_free_sessions ?? null,
    flows: Object.entries(mine?.flows ?? {}).map(([flow, f]) => ({ flow, ...f })),
    requests: Object.entries(mine?.requests ?? {}).map(([endpoint, f]) => ({ endpoint, ...f })),
    vitals_p75: mine?.vitals_p75 ?? {},
    series,
    error_groups: groups.map((g, i) => ({
      fingerprint: g.fingerprint,
      /** The groups its stacks give; the fingerprint itself unless source maps regrouped it. */
      stack_fingerprints: g.stackFingerprints,
      /**
       * `source`: grouped by its original source (the release had maps when its errors were
       * stored); `stack`: by its minified stack (no maps then — it may hold several bugs that share
       * a message and a bundle, even when its frames below are shown mapped by maps that came later).
       */
      grouped_by: isStackGroup(g) ? ('stack' as const) : ('source' as const),
      type: g.type,
      message: g.message,
      /** The stack as the browser gave it (minified, in a production build). */
      stack: g.stack,
      /** Its frames, at their original places when the release has source maps, with a few source lines for the app's own. */
      frames: frames[i]!,
      symbolicated: frames[i]!.some((f) => f.mapped),
      sessions: g.sessions,
      events: g.events,
      handled: g.handled === 1,
      first_seen: iso(g.firstSeen),
      new_in_release: newInRelease(g, before),
    })),
    cohorts: cohorts && cohortsOf(deps.detector, { project, env, release }, cohorts),
    /** The clients its data came through in the range (hours the range touches): the agent (`vigil`), Sentry's SDKs, OpenTelemetry. */
    clients,
    alerts: own.map((a) => ({
      dedup_key: a.dedup_key,
      rule: a.rule,
      subject: a.subject,
      /** The feature-flag cohort it is about (`new-auth=on`), '' for the whole release. */
      cohort: cohortOf(a),
      status: a.status,
      summary: alertSummary(a),
      /** Who is affected, as the alert said when it fired (detector/payload.ts). */
      affected: alertPayload(a).affected ?? null,
      fired_at: iso(a.fired_at),
      resolved_at: a.resolved_at === null ? null : iso(a.resolved_at),
      deliveries: deliveries.filter((d) => d.alert === a.dedup_key).map((d) => ({ notifier: d.notifier, type: d.type, status: d.status, attempts: d.attempts, last_error: d.last_error, created: iso(d.created), updated: iso(d.updated) })),
    })),
    verdict: verdictOf(deps.detector, project, env, release),
  }
}
export type ReleaseDetail = Awaited<ReturnType<typeof readRelease>>
