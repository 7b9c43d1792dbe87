/**
 * One-sided Bernoulli SPRT on counts of sessions.
 *
 * For a rate where higher is worse (failed flows, crashed sessions): H0 says the release is at
 * most `p0`, H1 that it is at `p1`. Each failed session adds ln(p1/p0), each good one
 * ln((1−p1)/(1−p0)). The release is bad when the sum reaches ln(1/α): by Ville's inequality a
 * release truly at p0 or below ever reaches it with probability ≤ α, however often the detector
 * looks. It is healthy (H0 accepted) when the sum falls to ln(β) — the same guarantee for
 * calling a bad release healthy, ≤ β.
 */

export type SprtParams = {
  /** Chance of ever alarming on a healthy release, per release and rule. */
  alpha: number
  /** Chance of calling a bad release healthy (verdicts, and resolving an alert). */
  beta: number
  /** Distinct failed sessions required before any alert: one angry user is not a regression. */
  minFailedSessions: number
  /** Baseline rates below this are taken as this: a baseline that never failed is not a 0% promise. */
  baselineFloor: number
}

export const defaultSprtParams: SprtParams = { alpha: 1e-3, beta: 0.05, minFailedSessions: 3, baselineFloor: 0.005 }

/**
 * Sessions and failed sessions; `robust`, when known: the same with the few client networks with
 * the most failures counted as one session each (store Judged). A release is bad only when both
 * say so: then no few networks — a stranger with the public key — can make it bad.
 */
export type Counts = { sessions: number; failed: number; robust?: Counts }

export type SprtResult = {
  p0: number
  p1: number
  /** Log-likelihood ratio of H1 against H0 given the counts. */
  llr: number
  /** ln(1/α): at or above, bad. */
  upper: number
  /** ln(β): at or below, healthy. */
  lower: number
  decision: 'bad' | 'healthy' | 'undecided'
}

/** The test for given hypotheses. */
export const sprtTest = (c: Counts, p0: number, p1: number, params: SprtParams = defaultSprtParams): SprtResult => {
  const llrOf = (x: Counts) => (p1 > p0 ? x.failed * Math.log(p1 / p0) + (x.sessions - x.failed) * Math.log((1 - p1) / (1 - p0)) : 0)
  const llr = llrOf(c)
  const upper = Math.log(1 / params.alpha)
  const lower = Math.log(params.beta)
  const reaches = (x: Counts) => llrOf(x) >= upper && x.failed >= params.minFailedSessions
  const decision = reaches(c) && (!c.robust || reaches(c.robust)) ? 'bad' : llr <= lower ? 'healthy' : 'undecided'
  return { p0, p1, llr, upper, lower, decision }
}

/**
 * Hypotheses from a baseline rate b (floored): H0 p0 = tolerance·u, where u is what the baseline's
 * rate could plausibly be (`upper`, ≥ b; b itself when not given) — a release a little worse than
 * its baseline is tolerated, not paged (1.5× against releases running at the same time, 3×
 * against a previous release's history, which does not cancel time of day); H1 p1 = max(5·b,
 * b + 2 points, 3·p0) — the regressions worth a page (with a baseline too small to pin down,
 * only a large one).
 */
export const hypotheses = (baselineRate: number, params: SprtParams = defaultSprtParams, tolerance = 1.5, upper = baselineRate) => {
  const b = Math.max(baselineRate, params.baselineFloor)
  const u = Math.max(upper, b)
  const p0 = Math.min(tolerance * u, 0.98)
  return { baselineRate: b, p0, p1: Math.min(Math.max(5 * b, b + 0.02, 3 * p0), 0.995) }
}

/**
 * The upper end of a one-sided 95% Wilson interval for a rate seen as `failed` of `sessions`.
 * A baseline is itself a sample: 0 failures in 20 sessions does not show a rate of 0 (it allows
 * up to 12%), so the detector compares with what the baseline could plausibly be, not with its
 * luckiest reading. With thousands of sessions the bound is the rate itself.
 */
export const wilsonUpper = (failed: number, sessions: number, z = 1.645): number => {
  if (sessions <= 0) return 1
  const p = failed / sessions
  const z2 = z * z
  return Math.min(1, (p + z2 / (2 * sessions) + z * Math.sqrt((p * (1 - p)) / sessions + z2 / (4 * sessions * sessions))) / (1 + z2 / sessions))
}
