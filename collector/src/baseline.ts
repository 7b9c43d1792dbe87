/**
 * The concurrent baseline: one definition, followed by the detector (detector/), the release
 * page (releaseNumbers.ts) and the Grafana panel "Flow failure rate by release" (its SQL says the
 * same; test/integration/baseline.test.ts checks that the three agree on the same data).
 *
 * A release is compared with the releases of its environment that arrived before it (by when the
 * collector first received each: client clocks can say anything), pooled: their sessions active
 * from `since` to the end of the window, and how many of them failed since `since` — `since`
 * being when the release appeared, or the window's start if later. An old release's failures
 * before the new one appeared do not colour its baseline.
 */
export const baselineSince = (w: { appeared: number; from: number }): number => Math.max(w.appeared, w.from)

/**
 * When those sessions are too few to judge by (a release minutes old), the detector widens the
 * span to at least the last `minMs` before `to` (still the releases that arrived before it) —
 * enough of the older releases' sessions for the baseline's own noise to be small, from close
 * enough in time for time of day not to matter. Its alert then says the span it used.
 */
export const widenedBaselineSince = (since: number, to: number, minMs: number): number => Math.min(since, to - minMs)
