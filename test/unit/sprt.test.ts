import { describe, expect, it } from 'vitest'
import { defaultSprtParams, hypotheses, sprtTest, type Counts, type SprtParams, type SprtResult } from '../../collector/src/detector/sprt.js'

type Sprt = SprtResult & { baselineRate: number; threshold: number; bad: boolean }

/** The release's counts against its baseline's: the detector's test for rates. */
const sprt = (release: Counts, baseline: Counts, params: SprtParams = defaultSprtParams): Sprt => {
  const h = hypotheses(baseline.sessions > 0 ? baseline.failed / baseline.sessions : 0, params)
  const r = sprtTest(release, h.p0, h.p1, params)
  return { ...r, baselineRate: h.baselineRate, threshold: r.upper, bad: r.decision === 'bad' }
}

/** Deterministic pseudo-random numbers, so these sequences are the same on every run. */
const rng = (seed: number) => () => {
  seed = (seed * 1664525 + 1013904223) >>> 0
  return seed / 2 ** 32
}

/** Feeds sessions one by one and returns the session count at which the test first says bad, or -1. */
const firstAlarm = (pRelease: number, pBaseline: number, sessions: number, seed: number): number => {
  const r = rng(seed)
  const rel = { sessions: 0, failed: 0 }
  const base = { sessions: 0, failed: 0 }
  for (let i = 1; i <= sessions; i++) {
    rel.sessions++
    if (r() < pRelease) rel.failed++
    // The concurrent baseline gets four times the traffic (a gradual rollout at 20%).
    for (let j = 0; j < 4; j++) {
      base.sessions++
      if (r() < pBaseline) base.failed++
    }
    if (base.sessions >= 20 && sprt(rel, base).bad) return i
  }
  return -1
}

describe('SPRT on failed sessions', () => {
  it('fires on a step change from 2% to 10%', () => {
    const at = [1, 2, 3, 4, 5].map((seed) => firstAlarm(0.1, 0.02, 2000, seed))
    for (const n of at) expect(n).toBeGreaterThan(0)
  })

  it('fires on 0.5% → 3%', () => {
    for (const seed of [11, 12, 13]) expect(firstAlarm(0.03, 0.005, 5000, seed)).toBeGreaterThan(0)
  })

  it('stays quiet on a release as good as its baseline, at every look', () => {
    for (let seed = 100; seed < 140; seed++) expect(firstAlarm(0.02, 0.02, 3000, seed)).toBe(-1)
  })

  it('stays quiet when a shared incident raises failures on every release alike', () => {
    // Both at 30%: the comparison is against the concurrent baseline, which suffers the same.
    for (let seed = 200; seed < 220; seed++) expect(firstAlarm(0.3, 0.3, 1000, seed)).toBe(-1)
  })

  it('never fires on fewer distinct failed sessions than the minimum', () => {
    const r = sprt({ sessions: 2, failed: 2 }, { sessions: 10_000, failed: 0 })
    expect(r.llr).toBeGreaterThan(0)
    expect(r.bad).toBe(false)
    expect(sprt({ sessions: 6, failed: 6 }, { sessions: 10_000, failed: 0 }).bad).toBe(true)
  })

  it('uses the documented hypotheses', () => {
    const r = sprt({ sessions: 100, failed: 10 }, { sessions: 1000, failed: 20 })
    expect(r.baselineRate).toBeCloseTo(0.02)
    expect(r.p0).toBeCloseTo(0.03)
    expect(r.p1).toBeCloseTo(0.1)
    expect(r.threshold).toBeCloseTo(Math.log(1 / defaultSprtParams.alpha))
    expect(r.llr).toBeCloseTo(10 * Math.log(0.1 / 0.03) + 90 * Math.log(0.9 / 0.97))
  })
})
