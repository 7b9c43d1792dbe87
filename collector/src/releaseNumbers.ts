import { BASELINE_MIN_MS, baselineSince } from './baseline.js'
import { iso } from './lib/iso.js'
import type { PageReads, ReleaseSpan } from './store/index.js'

/** The time ranges the dashboard offers, and the step of its charts for each. */
export const RANGES = {
  '15m': { ms: 15 * 60_000, stepS: 60 },
  '1h': { ms: 3600_000, stepS: 60 },
  '24h': { ms: 24 * 3600_000, stepS: 300 },
  '7d': { ms: 7 * 24 * 3600_000, stepS: 3600 },
} as const
export type Range = keyof typeof RANGES

/** The releases that arrived before this one, pooled, since this one appeared in the window (baseline.ts). */
export type Baseline = { releases: string[]; release_count: number; sessions: number; failed_sessions: number; failure_rate: number }
export type FlowStat = {
  sessions: number
  failed_sessions: number
  failure_rate: number
  attempts: number
  failures: number
  /** Null when no older release ran the flow while this one did. */
  baseline: Baseline | null
  /** failure_rate − baseline's, in fractions (0.1 = 10 percentage points). */
  difference: number | null
}
export type RequestStat = Omit<FlowStat, 'attempts'>
export type ReleaseNumbers = {
  release: string
  first_seen: string
  last_seen: string
  sessions: number
  /** This release's share of the environment's sessions in the window. */
  adoption: number
  crash_free_sessions: number | null
  flows: Record<string, FlowStat>
  /** Each endpoint its requests called, as a flow: sessions that called it, those where a call failed, failed calls. */
  requests: Record<string, RequestStat>
  vitals_p75: Record<string, { p75: number; samples: number }>
}


/** The most releases a page lists; older ones are counted, not shown. */
export const MAX_RELEASES = 50

/**
 * The releases of an environment active in [from, to], newest first (at most MAX_RELEASES, or just
 * `only`), with the numbers the detector works from: sessions, crash-free sessions, each flow's
 * failure rate by session against its baseline: the concurrent baseline the detector takes too
 * (baseline.ts), the releases that arrived before this one since this one appeared.
 */
export const releaseNumbers = async (
  store: PageReads,
  q: { project: string; env: string; from: number; to: number; only?: string },
): Promise<{ releases: ReleaseNumbers[]; more: number; active: ReleaseSpan[] }> => {
  const { project, env, from, to } = q
  // Every release's sessions (adoption is a share of them all); flows and vitals of the ones shown.
  // The releases whose sessions a baseline may hold: those active since the earliest a baseline starts.
  const [summaries, sessionRows, { flows, vitals }] = await Promise.all([
    store.releaseSpans(project, env, Math.min(from, to - BASELINE_MIN_MS)),
    store.releaseSessions(project, env, from, to),
    store.flowsAndVitals(project, env, from, to, q.only),
  ])
  const sessions = new Map(sessionRows.map((h) => [h.release, h]))
  const all = sessionRows.reduce((n, h) => n + h.sessions, 0)
  // Newest first; a release is listed when it had a session in the window.
  const active = summaries.filter((s) => sessions.has(s.release))
  const wanted = q.only === undefined ? active : active.filter((s) => s.release === q.only)
  const listed = wanted.slice(0, MAX_RELEASES)
  const baselines = await store.flowBaselines(
    project,
    env,
    listed.map((s) => ({ release: s.release, arrived: s.arrived, since: baselineSince({ appeared: s.firstSeen, from, to }) })),
    summaries,
    to,
  )

  const releases = listed.map((s) => {
    const own = sessions.get(s.release)!
    const flowStats: Record<string, FlowStat> = {}
    const requests: Record<string, RequestStat> = {}
    for (const f of flows.filter((x) => x.release === s.release).sort((a, b) => a.flow.localeCompare(b.flow))) {
      const b = baselines.find((x) => x.target === s.release && x.kind === f.kind && x.flow === f.flow)
      const rate = f.sessions ? f.failed / f.sessions : 0
      const baseline: Baseline | null = b?.sessions
        ? { releases: b.releases, release_count: b.release_count, sessions: b.sessions, failed_sessions: b.failed, failure_rate: b.failed / b.sessions }
        : null
      const stat = { sessions: f.sessions, failed_sessions: f.failed, failure_rate: rate, failures: f.failures, baseline, difference: baseline ? rate - baseline.failure_rate : null }
      // A request's events are not its calls (one counts many that went well).
      if (f.kind === 'request') requests[f.flow] = stat
      else flowStats[f.flow] = { ...stat, attempts: f.attempts }
    }
    return {
      release: s.release,
      first_seen: iso(s.firstSeen),
      last_seen: iso(s.lastSeen),
      sessions: own.sessions,
      adoption: all ? own.sessions / all : 0,
      crash_free_sessions: own.sessions ? 1 - own.crashed / own.sessions : null,
      flows: flowStats,
      requests,
      vitals_p75: Object.fromEntries(vitals.filter((v) => v.release === s.release).map((v) => [v.name, { p75: v.p75, samples: v.samples }])),
    }
  })
  return { releases, more: wanted.length - listed.length, active }
}

/** Per step, a flow's failure rate (failed sessions ÷ sessions) on a release and on its baseline; null where no session ran it. */
export type FlowSeries = {
  flow: string
  t: number[]
  rate: (number | null)[]
  baseline: (number | null)[]
  sessions: number[]
  failed: number[]
  baseline_sessions: number[]
  baseline_failed: number[]
}

export const flowSeries = async (
  store: PageReads,
  q: { project: string; env: string; release: string; baseline: string[]; from: number; to: number; stepS: number },
): Promise<FlowSeries[]> => {
  const steps = await store.flowSeries(q.project, q.env, q.release, q.baseline, q.from, q.to, q.stepS)
  const start = Math.floor(q.from / 1000 / q.stepS) * q.stepS
  const times: number[] = []
  for (let t = start; t <= q.to / 1000; t += q.stepS) times.push(t)
  const index = new Map(times.map((t, i) => [t, i]))
  const byFlow = new Map<string, FlowSeries>()
  for (const s of steps) {
    let f = byFlow.get(s.flow)
    if (!f) {
      const zero = () => times.map(() => 0)
      f = { flow: s.flow, t: times, rate: times.map(() => null), baseline: times.map(() => null), sessions: zero(), failed: zero(), baseline_sessions: zero(), baseline_failed: zero() }
      byFlow.set(s.flow, f)
    }
    const i = index.get(s.t)
    if (i === undefined || s.sessions === 0) continue
    if (s.base) {
      f.baseline[i] = s.failed / s.sessions
      f.baseline_sessions[i] = s.sessions
      f.baseline_failed[i] = s.failed
    } else {
      f.rate[i] = s.failed / s.sessions
      f.sessions[i] = s.sessions
      f.failed[i] = s.failed
    }
  }
  // Flows this release ran; a flow only the baseline ran is not this release's.
  return [...byFlow.values()].filter((f) => f.sessions.some((n) => n > 0)).sort((a, b) => a.flow.localeCompare(b.flow))
}
