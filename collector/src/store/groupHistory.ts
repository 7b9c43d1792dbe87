import { groupBy } from '../lib/groupBy.js'

/** One row of `error_releases`: a group, the key its stack gives, a release it was seen in, and when first. */
export type GroupSighting = { fingerprint: string; stack_fingerprint: string; release: string; first: number }

/** Where an error group has been seen: every release, and the first time and release. */
export type GroupHistory = {
  /**
   * The groups its stacks give (Chrome's and Firefox's stacks of one bug differ, so several);
   * the fingerprint alone when no source map regrouped it.
   */
  stackFingerprints: string[]
  /** Every release the group was seen in, with its first time there, the earliest first. */
  seenIn: { release: string; first: number }[]
  firstSeen: number
  firstRelease: string
}

/**
 * Groups' histories, whether their releases had source maps or not, from the sightings of the
 * groups asked about and of those they may be (read once; each history then costs its own
 * sightings, not all of them). A group regrouped by a map (its fingerprint is not its stack
 * fingerprint) is the bug of every error with its fingerprint; it may also be among the errors
 * stored without a map that share one of its stack fingerprints, in any release (their stacks
 * cannot tell more; a release whose maps came a minute late included: its first errors may be
 * any of its bugs). A group without a map may be any group with its stack fingerprint. So a map
 * uploaded for one release and not another, or late, never makes a known bug "new"; two bugs a
 * map tells apart are told apart wherever both sides had maps. A release without maps costs that
 * precision for what shares its stacks' groups, never a false "new".
 */
export const groupHistories = (sightings: GroupSighting[]) => {
  const byFingerprint = groupBy(sightings, (s) => s.fingerprint)
  const byStack = groupBy(sightings, (s) => s.stack_fingerprint)
  return (fingerprint: string): GroupHistory => {
    const own = byFingerprint.get(fingerprint) ?? []
    const stacks = [...new Set(own.map((s) => s.stack_fingerprint))]
    const mapped = stacks.some((s) => s !== fingerprint)
    const same = mapped ? [...own, ...stacks.flatMap((s) => byFingerprint.get(s) ?? [])] : (byStack.get(fingerprint) ?? [])
    const first = new Map<string, number>()
    for (const s of same) first.set(s.release, Math.min(s.first, first.get(s.release) ?? Infinity))
    const seenIn = [...first].map(([release, t]) => ({ release, first: t })).sort((a, b) => a.first - b.first || a.release.localeCompare(b.release))
    return { stackFingerprints: stacks.length ? stacks : [fingerprint], seenIn, firstSeen: seenIn[0]?.first ?? 0, firstRelease: seenIn[0]?.release ?? '' }
  }
}

/** One group's history (see groupHistories). */
export const groupHistory = (sightings: GroupSighting[], fingerprint: string): GroupHistory => groupHistories(sightings)(fingerprint)

/** Sightings of several projects' and environments' groups, each with its project and environment. */
export type PlacedSighting = GroupSighting & { project: string; env: string }

/** The histories (groupHistories) of each project's and environment's groups, from their sightings read at once. */
export const historiesByPlace = (sightings: PlacedSighting[]) => {
  const byPlace = groupBy(sightings, (s) => `${s.project}\u0000${s.env}`)
  const histories = new Map([...byPlace].map(([place, list]) => [place, groupHistories(list)]))
  const none = groupHistories([])
  return (project: string, env: string) => histories.get(`${project}\u0000${env}`) ?? none
}
