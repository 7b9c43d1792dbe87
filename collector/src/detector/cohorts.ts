/**
 * Feature-flag cohorts: a release's sessions split by their variant of a flag (`vigil.flag`), each
 * variant judged as a release is, against the flag's other variants in the same release and
 * environment — every rule but web vitals: flows, endpoints, the crash rate, error groups new to
 * the variant. The detector's memory counts each session of a flag a second time in a cohort
 * (sessions.ts), its environment the release's flag (cohortEnv), its release the variant: a
 * look reads a cohort's windows as it reads a release's.
 */
import type { ErrorGroup, FlagRow, SessionCrashes } from '../store/index.js'
import type { WindowData } from './rules.js'

/** The most flags of one session counted in cohorts (the first by name): a session cannot multiply its weight in memory. */
export const MAX_SESSION_FLAGS = 5
/** The most variants of one flag judged in a release (those with the most sessions)... */
export const MAX_VARIANTS = 10
/** ...and the most flags (those with the most sessions): a look's cost stays bounded whatever a sender names. */
export const MAX_FLAGS_PER_RELEASE = 20

/** Cohorts' keys join their parts with a control character, which no environment, release or flag has (ingest/normalise.ts). */
const SEP = '\u0001'

/** A cohort: a flag's variant. */
export type Cohort = { flag: string; variant: string }
/** As people and alerts name it: `new-auth=on`. */
export const cohortName = (c: Cohort) => `${c.flag}=${c.variant}`
/** What tells cohorts apart (alerts, verdicts): `=` may be in a flag's name or variant, a control character may not. */
export const cohortKey = (c: Cohort) => `${c.flag}${SEP}${c.variant}`

/** Where the detector counts a release's sessions by their variant of `flag` (each variant a "release" there). */
export const cohortEnv = (env: string, release: string, flag: string) => [env, release, flag].join(SEP)
export const isCohortEnv = (env: string) => env.includes(SEP)

type Keyed = { project: string; env: string; release: string; session: string }
const sessionKey = (r: Keyed) => [r.project, r.env, r.release, r.session].join('\u0000')

/**
 * Rows of the sessions read, each with the release its id is kept under, then a copy of it in
 * each cohort of its session's flags (at most MAX_SESSION_FLAGS, the first by name), kept under
 * no release: the session's copy moves when its variant changes.
 */
export const withCohorts = (flags: FlagRow[]) => {
  const of = new Map<string, [string, string][]>()
  for (const f of flags) {
    const k = sessionKey(f)
    const list = of.get(k)
    if (list) list.push([f.flag, f.variant])
    else of.set(k, [[f.flag, f.variant]])
  }
  for (const list of of.values()) list.sort((a, b) => (a[0] < b[0] ? -1 : 1)).splice(MAX_SESSION_FLAGS)
  return <R extends Keyed>(rows: R[]): [R, string][] =>
    rows.flatMap((r): [R, string][] => [
      [r, r.release],
      ...(of.get(sessionKey(r)) ?? []).map(([flag, variant]): [R, string] => [{ ...r, env: cohortEnv(r.env, r.release, flag), release: variant }, '']),
    ])
}

/**
 * A release's flags in a window (its sessions and crashes, cohorts' included), each with its
 * variants that had sessions in it (the most sessions first, at most MAX_VARIANTS); only flags
 * with `least` variants or more (two: a variant is judged against the others), at most
 * MAX_FLAGS_PER_RELEASE (those with the most sessions).
 */
export const flagsOf = (window: SessionCrashes[], env: string, release: string, least = 2): Map<string, string[]> => {
  const prefix = cohortEnv(env, release, '')
  const rows = window.filter((h) => h.env.startsWith(prefix) && h.sessions > 0)
  const out = new Map<string, string[]>()
  const total = new Map<string, number>()
  for (const h of rows.sort((a, b) => b.sessions - a.sessions)) {
    const flag = h.env.slice(prefix.length)
    const list = out.get(flag) ?? []
    if (list.length < MAX_VARIANTS) out.set(flag, [...list, h.release])
    total.set(flag, (total.get(flag) ?? 0) + h.sessions)
  }
  const kept = [...out].filter(([, variants]) => variants.length >= least).sort(([a], [b]) => total.get(b)! - total.get(a)!)
  return new Map(kept.slice(0, MAX_FLAGS_PER_RELEASE))
}

/** Sessions of the other variants a group needs to have shown in them, at its rate in a variant, before its absence there says anything. */
const EXPECTED_IN_OTHERS = 3

/**
 * Error groups as a cohort judges them: seen in the variants that had them in its window (`seen`)
 * — a group is new to a variant when the flag's other variants did not have it, and they could
 * tell: they have `minSessions` sessions at least, and so many that the group, at its rate in the
 * variant, would have shown in EXPECTED_IN_OTHERS of them (a variant of one session, a stranger's
 * say, tells nothing: the group is then seen everywhere). No history of their own: a cohort's
 * groups are read without one.
 */
export const seenInCohort = (seen: WindowData, minSessions: number) => {
  const sessions = new Map(seen.crashes.map((h) => [h.release, h.sessions]))
  const total = [...sessions.values()].reduce((a, b) => a + b, 0)
  const variants = new Map<string, Set<string>>()
  for (const g of seen.groups) (variants.get(g.fingerprint) ?? variants.set(g.fingerprint, new Set()).get(g.fingerprint)!).add(g.release)
  const tells = new Set<string>()
  for (const g of seen.groups) {
    const own = sessions.get(g.release) ?? 0
    const others = total - own
    if (own > 0 && others >= minSessions && (g.sessions / own) * others >= EXPECTED_IN_OTHERS) tells.add(`${g.fingerprint}${SEP}${g.release}`)
  }
  return (w: WindowData): WindowData => ({
    ...w,
    groups: w.groups.map((g): ErrorGroup => {
      const where = tells.has(`${g.fingerprint}${SEP}${g.release}`) ? (variants.get(g.fingerprint) ?? new Set([g.release])) : new Set([...sessions.keys(), g.release])
      const seenIn = [...where].map((release) => ({ release, first: seen.from }))
      return { ...g, stackFingerprints: [g.fingerprint], seenIn, firstSeen: seen.from, firstRelease: seenIn[0]!.release }
    }),
  })
}
