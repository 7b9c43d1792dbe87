/** One row of `error_releases`: a group, the key its stack gives, a release it was seen in, and when first. */
export type GroupSighting = { fingerprint: string; stack_fingerprint: string; release: string; first: number }

/** Where an error group has been seen: every release, and the first time and release. */
export type GroupHistory = {
  /** The group as the stack gives it (the fingerprint itself when no source map regrouped it). */
  stackFingerprint: string
  /** Every release the group was seen in, with its first time there, the earliest first. */
  seenIn: { release: string; first: number }[]
  firstSeen: number
  firstRelease: string
}

/**
 * A group's history, whether its releases had source maps or not. A group regrouped by a map
 * (its fingerprint is not its stack fingerprint) is the bug of every error with its fingerprint;
 * it may also be among the errors that share its stack fingerprint in a release that had no map
 * for them (their stacks cannot tell more). In a release that has maps for them, those errors
 * are its mapped groups' (stored before the map arrived): they count as those. A group without a
 * map may be any group with its stack fingerprint. So a map uploaded for one release and not
 * another, or a minute late, never makes a known bug "new"; two bugs a map tells apart are told
 * apart wherever both sides had maps — a release without maps costs that precision for what
 * shares its stacks' groups, never a false "new".
 */
export const groupHistory = (sightings: GroupSighting[], fingerprint: string): GroupHistory => {
  const stack = sightings.find((s) => s.fingerprint === fingerprint)?.stack_fingerprint ?? fingerprint
  let same: GroupSighting[]
  if (stack === fingerprint) same = sightings.filter((s) => s.stack_fingerprint === stack)
  else {
    const mappedIn = new Set(sightings.filter((s) => s.stack_fingerprint === stack && s.fingerprint !== stack).map((s) => s.release))
    same = sightings.filter((s) => s.fingerprint === fingerprint || (s.fingerprint === stack && !mappedIn.has(s.release)))
  }
  const first = new Map<string, number>()
  for (const s of same) first.set(s.release, Math.min(s.first, first.get(s.release) ?? Infinity))
  const seenIn = [...first].map(([release, t]) => ({ release, first: t })).sort((a, b) => a.first - b.first || a.release.localeCompare(b.release))
  return { stackFingerprint: stack, seenIn, firstSeen: seenIn[0]?.first ?? 0, firstRelease: seenIn[0]?.release ?? '' }
}
