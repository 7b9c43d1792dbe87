import type { Store } from './store/index.js'

/** The time ranges the dashboard offers, and the step of its charts for each. */
export const RANGES = {
  '15m': { ms: 15 * 60_000, stepS: 60 },
  '1h': { ms: 3600_000, stepS: 60 },
  '24h': { ms: 24 * 3600_000, stepS: 300 },
  '7d': { ms: 7 * 24 * 3600_000, stepS: 3600 },
} as const
export type Range = keyof typeof RANGES

export type Baseline = { releases: string[]; sessions: number; failed_sessions: number; failure_rate: number }
export type FlowStat = {
  sessions: number
  failed_sessions: number
  failure_rate: number
  attempts: number
  failures: number
  /** The older releases active in the same window, pooled; null for the oldest release. */
  baseline: Baseline | null
  /** failure_rate − baseline's, in fractions (0.1 = 10 percentage points). */
  difference: number | null
}
export type ReleaseHealth = {
  release: string
  first_seen: string
  last_seen: string
  sessions: number
  /** This release's share of the environment's sessions in the window. */
  adoption: number
  crash_free_sessions: number | null
  flows: Record<string, FlowStat>
  vitals_p75: Record<string, { p75: number; samples: number }>
}

const iso = (ms: number) => new Date(ms).toISOString()

/**
 * Each release of an environment active in [from, to], newest first, with the numbers the
 * detector works from: sessions, crash-free sessions, each flow's failure rate by session against
 * its baseline. The baseline is what the detector compares with: the releases that appeared
 * before this one, over the same window (the oldest release has none).
 */
export const releasesHealth = async (store: Store, project: string, env: string, from: number, to: number): Promise<ReleaseHealth[]> => {
  const [summaries, health, flows, vitals] = await Promise.all([
    store.releases(project, env),
    store.sessionHealth(project, from, to),
    store.flowHealth(project, from, to),
    store.vitals(project, from, to),
  ])
  const here = <T extends { env: string }>(rows: T[]) => rows.filter((r) => r.env === env)
  const sessions = new Map(here(health).map((h) => [h.release, h]))
  const all = here(health).reduce((n, h) => n + h.sessions, 0)
  // Newest first; a release is listed when it had a session in the window.
  const listed = summaries.filter((s) => sessions.has(s.release))
  const firstSeen = new Map(listed.map((s) => [s.release, s.firstSeen]))
  const envFlows = here(flows)

  return listed.map((s) => {
    const own = sessions.get(s.release)!
    const flowStats: Record<string, FlowStat> = {}
    for (const f of envFlows.filter((x) => x.release === s.release)) {
      const older = envFlows.filter((x) => x.flow === f.flow && (firstSeen.get(x.release) ?? Infinity) < s.firstSeen)
      const base = older.reduce((b, x) => ({ sessions: b.sessions + x.sessions, failed: b.failed + x.failed }), { sessions: 0, failed: 0 })
      const rate = f.sessions ? f.failed / f.sessions : 0
      const baseline: Baseline | null = base.sessions
        ? { releases: older.map((x) => x.release), sessions: base.sessions, failed_sessions: base.failed, failure_rate: base.failed / base.sessions }
        : null
      flowStats[f.flow] = {
        sessions: f.sessions,
        failed_sessions: f.failed,
        failure_rate: rate,
        attempts: f.attempts,
        failures: f.failures,
        baseline,
        difference: baseline ? rate - baseline.failure_rate : null,
      }
    }
    return {
      release: s.release,
      first_seen: iso(s.firstSeen),
      last_seen: iso(s.lastSeen),
      sessions: own.sessions,
      adoption: all ? own.sessions / all : 0,
      crash_free_sessions: own.sessions ? 1 - own.crashed / own.sessions : null,
      flows: flowStats,
      vitals_p75: Object.fromEntries(here(vitals).filter((v) => v.release === s.release).map((v) => [v.name, { p75: v.p75, samples: v.samples }])),
    }
  })
}

/** Per step, a flow's failure rate (failed sessions ÷ sessions) on a release and on its baseline; null where no session ran it. */
export type FlowSeries = { flow: string; t: number[]; rate: (number | null)[]; baseline: (number | null)[]; sessions: number[]; failed: number[] }

export const flowSeries = async (
  store: Store,
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
      f = { flow: s.flow, t: times, rate: times.map(() => null), baseline: times.map(() => null), sessions: times.map(() => 0), failed: times.map(() => 0) }
      byFlow.set(s.flow, f)
    }
    const i = index.get(s.t)
    if (i === undefined || s.sessions === 0) continue
    if (s.base) f.baseline[i] = s.failed / s.sessions
    else {
      f.rate[i] = s.failed / s.sessions
      f.sessions[i] = s.sessions
      f.failed[i] = s.failed
    }
  }
  // Flows this release ran; a flow only the baseline ran is not this release's.
  return [...byFlow.values()].filter((f) => f.sessions.some((n) => n > 0)).sort((a, b) => a.flow.localeCompare(b.flow))
}
