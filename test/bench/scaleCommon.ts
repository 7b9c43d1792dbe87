/** What bench:scale's cases share: their context, percentiles, number formats. */

export type CaseContext = {
  /** A fresh temporary directory for the collector's data (removed by scale.ts). */
  dataDir: string
  /** Runs at the end, or when the watchdog stops the bench (last deferred first). */
  defer: (close: () => Promise<unknown> | void) => void
  progress: (s: string) => void
}

export const S = 1000
export const MIN = 60 * S
export const H = 60 * MIN

/** The q-quantile of numbers sorted ascending (nearest rank). */
export const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN

/** p50/p95/max of some durations (ms), as text. */
export const spread = (xs: number[], f = f0): string => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? `p50 ${f(quantile(s, 0.5))}, p95 ${f(quantile(s, 0.95))}, max ${f(s[s.length - 1]!)}` : 'none'
}

export const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : '—')
export const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '—')
export const n = (x: number): string => Math.round(x).toLocaleString('en-US')
