/**
 * The concurrent baseline: one definition, followed by the detector (detector/look.ts), the
 * release page (releaseNumbers.ts) and the Grafana panel "Flow failure rate by release" (its SQL
 * says the same; test/integration/baseline.test.ts checks that the three agree on the same data).
 *
 * A release is compared with the releases of its environment that arrived before it (by when the
 * collector first received each: client clocks can say anything), pooled: their sessions active
 * from `since` to the end of the window, and how many of them failed since `since`. `since` is
 * when the release appeared, or the window's start if later — an old release's failures before
 * the new one appeared do not colour its baseline — but at least BASELINE_MIN_MS before the
 * window's end: a release minutes old is compared with enough of the older releases' sessions for
 * the baseline's own noise to be small (it decides how soon a bad release pages), from close
 * enough in time for time of day not to matter.
 */
export const BASELINE_MIN_MS = 30 * 60_000

/** Where a release's concurrent baseline starts, in a window [from, to] of which it appeared at `appeared`. */
export const baselineSince = (w: { appeared: number; from: number; to: number }, minMs = BASELINE_MIN_MS): number =>
  Math.min(Math.max(w.appeared, w.from), w.to - minMs)
