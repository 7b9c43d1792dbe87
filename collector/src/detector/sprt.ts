/**
 * One-sided Bernoulli SPRT on the number of sessions in which a flow failed.
 *
 * H0: the release fails at p0 = 1.5 × baseline (a tolerance: a little worse is not paged);
 * H1: it fails at p1 = max(5 × baseline, baseline + 2 points).
 * Each failed session adds ln(p1/p0), each successful one ln((1−p1)/(1−p0)); the release is bad
 * when the sum reaches ln(1/α). By Ville's inequality a healthy release (p ≤ p0) ever reaches it
 * with probability ≤ α, however often the detector looks.
 */

export type SprtParams = {
  /** Chance of ever alarming on a healthy release, per release and flow. */
  alpha: number
  /** Distinct failed sessions required before any alert: one angry user is not a regression. */
  minFailedSessions: number
  /** Baseline rates below this are taken as this: a baseline that never failed is not a 0% promise. */
  baselineFloor: number
}

export const defaultSprtParams: SprtParams = { alpha: 1e-3, minFailedSessions: 3, baselineFloor: 0.005 }

export type Counts = { sessions: number; failed: number }

export type SprtResult = {
  baselineRate: number
  p0: number
  p1: number
  /** Log-likelihood ratio of H1 against H0 given the counts. */
  llr: number
  /** ln(1/α) */
  threshold: number
  bad: boolean
}

export const sprt = (release: Counts, baseline: Counts, params: SprtParams = defaultSprtParams): SprtResult => {
  const observed = baseline.sessions > 0 ? baseline.failed / baseline.sessions : 0
  const baselineRate = Math.max(observed, params.baselineFloor)
  const p0 = Math.min(1.5 * baselineRate, 0.98)
  const p1 = Math.min(Math.max(5 * baselineRate, baselineRate + 0.02), 0.995)
  const ok = release.sessions - release.failed
  const llr = p1 > p0 ? release.failed * Math.log(p1 / p0) + ok * Math.log((1 - p1) / (1 - p0)) : 0
  const threshold = Math.log(1 / params.alpha)
  return {
    baselineRate,
    p0,
    p1,
    llr,
    threshold,
    bad: llr >= threshold && release.failed >= params.minFailedSessions,
  }
}
