/**
 * Feature-flag cohorts (collector/src/detector/cohorts.ts): which flags and variants a look
 * judges, and when an error group is new to a variant.
 */
import { describe, expect, it } from 'vitest'
import { cohortEnv, flagsOf, MAX_FLAGS_PER_RELEASE, seenInCohort } from '../../collector/src/detector/cohorts.js'
import { newInRelease, type WindowData } from '../../collector/src/detector/rules.js'
import type { ErrorGroup, SessionCrashes } from '../../collector/src/store/types.js'

const judged = { judgedSessions: 0, judgedFailed: 0, failedNetworks: 0, topFailed: 0, topSessions: 0 }
const crashes = (env: string, release: string, sessions: number): SessionCrashes => ({ env, release, sessions, crashed: 0, ...judged })
const group = (release: string, fingerprint: string, sessions: number) =>
  ({ env: 'c', release, fingerprint, sessions, events: sessions, type: 'TypeError', message: 'm', stack: '', handled: 0, judgedSessions: sessions, networks: sessions, topFailed: 0, topSessions: 0 }) as unknown as ErrorGroup
const window = (variants: Record<string, number>, groups: ErrorGroup[]): WindowData => ({
  from: 0,
  to: 1,
  crashes: Object.entries(variants).map(([v, n]) => crashes('c', v, n)),
  flows: [],
  groups,
})
const isNew = (w: WindowData, variant: string, fingerprint: string) => {
  const g = seenInCohort(w, 20)(w).groups.find((x) => x.release === variant && x.fingerprint === fingerprint)!
  return newInRelease(g, new Set(w.crashes.map((h) => h.release).filter((v) => v !== variant)))
}

describe('feature-flag cohorts', () => {
  it("judge a release's flags with two variants or more, the busiest first, within bounds", () => {
    const rows = [
      crashes('production', '1.4.2', 100),
      crashes(cohortEnv('production', '1.4.2', 'new-auth'), 'on', 20),
      crashes(cohortEnv('production', '1.4.2', 'new-auth'), 'off', 80),
      crashes(cohortEnv('production', '1.4.2', 'alone'), 'x', 100),
      crashes(cohortEnv('production', '1.4.1', 'other'), 'a', 5),
      crashes(cohortEnv('production', '1.4.1', 'other'), 'b', 5),
      ...Array.from({ length: 30 }, (_, i) => [crashes(cohortEnv('production', '1.4.2', `f${i}`), 'a', 1 + i), crashes(cohortEnv('production', '1.4.2', `f${i}`), 'b', 1)]).flat(),
    ]
    const flags = flagsOf(rows, 'production', '1.4.2')
    expect(flags.get('new-auth')).toEqual(['off', 'on'])
    // One variant: nothing to compare with; another release's flag is not this one's.
    expect(flags.has('alone') || flags.has('other')).toBe(false)
    expect(flags.size).toBe(MAX_FLAGS_PER_RELEASE)
    expect([...flags.keys()][0]).toBe('new-auth')
    expect(flags.has('f0')).toBe(false)
    expect(flagsOf(rows, 'production', '1.4.2', 1).get('alone')).toEqual(['x'])
  })

  it('call an error group new to a variant only when the other variants could have shown it', () => {
    // A group in 4% of new-auth=on's sessions, none of off's: off's 400 sessions would have shown 16.
    expect(isNew(window({ on: 100, off: 400 }, [group('on', 'g', 4)]), 'on', 'g')).toBe(true)
    // The same against one session of a variant a stranger named: it tells nothing.
    expect(isNew(window({ on: 100, x: 1 }, [group('on', 'g', 4)]), 'on', 'g')).toBe(false)
    // Against 25 sessions, where a 4% group would show in 1: not enough either.
    expect(isNew(window({ on: 100, off: 25 }, [group('on', 'g', 4)]), 'on', 'g')).toBe(false)
    // Seen in the other variant: not new.
    expect(isNew(window({ on: 100, off: 400 }, [group('on', 'g', 4), group('off', 'g', 1)]), 'on', 'g')).toBe(false)
  })
})
