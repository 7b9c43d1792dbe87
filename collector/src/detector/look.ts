/**
 * What one look reads of a project: which releases it judges, and their windows (read through
 * loader.ts: batched across releases and projects, each once per look).
 */
import { baselineSince } from '../baseline.js'
import { APPEARED_BEFORE_ARRIVAL_MS, type ReleaseSummary, type SessionCrashes, type VitalStat } from '../store/index.js'
import type { LookReads } from './loader.js'
import type { PreviousWindow, WindowCounts, WindowData } from './rules.js'

export type Choice = {
  releases: ReleaseSummary[]
  /** `${env}\u0000${release}` of the releases with an alert firing. */
  firing: ReadonlySet<string>
  now: number
  liveMs: number
  maxReleasesPerEnvironment: number
  maxEnvironments: number
}

/**
 * The releases a look judges: those with an event within liveMs or an alert firing, at most
 * maxReleasesPerEnvironment in an environment and maxEnvironments environments (those with an
 * alert firing first, then those with the most sessions); and how many it leaves.
 */
export const chooseReleases = ({ releases, firing, now, liveMs, maxReleasesPerEnvironment, maxEnvironments }: Choice) => {
  type Ranked = { firing: boolean; sessions: number }
  const ranked = <T extends Ranked>(xs: T[]) => xs.sort((a, b) => Number(b.firing) - Number(a.firing) || b.sessions - a.sessions)
  const envs = new Map<string, (Ranked & { r: ReleaseSummary })[]>()
  for (const r of releases) {
    const x = { r, firing: firing.has(`${r.env}\u0000${r.release}`), sessions: r.sessions }
    if (r.lastSeen < now - liveMs && !x.firing) continue
    const live = envs.get(r.env)
    if (live) live.push(x)
    else envs.set(r.env, [x])
  }
  const chosen = new Set<ReleaseSummary>()
  let skipped = 0
  const byEnv = ranked([...envs.values()].map((live) => ({ live, firing: live.some((x) => x.firing), sessions: live.reduce((n, x) => n + x.sessions, 0) })))
  for (const [i, { live }] of byEnv.entries()) {
    const take = i < maxEnvironments ? maxReleasesPerEnvironment : 0
    for (const x of ranked(live).slice(0, take)) chosen.add(x.r)
    skipped += Math.max(0, live.length - take)
  }
  return { chosen, skipped }
}

export type WindowReader = {
  /** The look's time, where every window ends... */
  now: number
  /** ...and where the whole window starts. */
  whole: number
  /** Health and flows of one environment over a window (what a baseline reads). */
  counts: (env: string, from: number, to: number) => Promise<WindowCounts>
  /** Counts and error groups (what the release itself is judged on). */
  window: (env: string, from: number, to: number) => Promise<WindowData>
  /** Vital stats of every release over a window. */
  vitals: (from: number, to: number) => Promise<VitalStat[]>
  /** Sessions and crashes of every release (and cohort: cohorts.ts) over a window. */
  crashes: (from: number, to: number) => Promise<SessionCrashes[]>
}

/** One project's windows, through the look's batched reads (loader.ts). */
export const windowReader = (p: { reads: LookReads; project: string; now: number; windowMs: number }): WindowReader => {
  const { reads, project, now } = p
  const of = (from: number, to: number) => ({ project, from, to })
  const counts = async (env: string, from: number, to: number): Promise<WindowCounts> => {
    const [crashes, flows] = await Promise.all([reads.crashes(of(from, to)), reads.flows(of(from, to))])
    return { from, to, crashes: crashes.filter((h) => h.env === env), flows: flows.filter((f) => f.env === env) }
  }
  const window = async (env: string, from: number, to: number): Promise<WindowData> => {
    const [c, groups] = await Promise.all([counts(env, from, to), reads.groups(of(from, to))])
    return { ...c, groups: groups.filter((g) => g.env === env) }
  }
  return { now, whole: now - p.windowMs, counts, window, vitals: (from, to) => reads.vitals(of(from, to)), crashes: (from, to) => reads.crashes(of(from, to)) }
}

/** One release's windows, as the rules judge it. */
export type ReleaseWindows = {
  /** Where its window starts: its first event, or the whole window's start. */
  start: number
  /** Every release of its environment since `start`. */
  cur: WindowData
  /** The releases that arrived before it. */
  older: Set<string>
  /** The newest of those (the previous release) over its history before this one appeared. */
  prev: PreviousWindow | undefined
  /** The concurrent baseline's rows (baseline.ts): since `start`, at least the last baselineMinMs. */
  base: WindowCounts
}

export const releaseWindows = async (p: {
  reader: WindowReader
  release: ReleaseSummary
  /** Every release of the project. */
  releases: ReleaseSummary[]
  previousHistoryMs: number
  baselineMinMs: number
}): Promise<ReleaseWindows> => {
  const { reader, release: r } = p
  const { now, whole } = reader
  const start = Math.max(r.firstSeen, whole)
  // No row of a release precedes its firstSeen, unless that was cut to
  // APPEARED_BEFORE_ARRIVAL_MS before it arrived (events dated earlier): its rows since
  // `start` are then its rows over the whole window, which every release shares.
  const own = start === whole || r.firstSeen > r.arrived - APPEARED_BEFORE_ARRIVAL_MS ? whole : start
  // The releases that arrived before this one; the newest of them is "the previous release".
  const earlier = p.releases.filter((o) => o.env === r.env && o.arrived < r.arrived).sort((a, b) => b.arrived - a.arrived)
  const older = new Set(earlier.map((o) => o.release))
  const previous = earlier[0]
  // Asked for together: the look reads every release's windows in one batch.
  const [window, prevCounts, base] = await Promise.all([
    reader.window(r.env, own, now),
    previous ? reader.counts(r.env, r.firstSeen - p.previousHistoryMs, r.firstSeen) : undefined,
    reader.counts(r.env, baselineSince({ appeared: r.firstSeen, from: whole, to: now }, p.baselineMinMs), now),
  ])
  const prev = previous && prevCounts ? { ...prevCounts, release: previous.release } : undefined
  return { start, cur: { ...window, from: start }, older, prev, base }
}
