/**
 * Judged, counted in memory (sessions.ts, vitalMemory.ts): what judgingSql's `judged` counts in
 * ClickHouse, from the same counts per source.
 */
import type { Judged } from '../store/index.js'
import { SESSIONS_PER_NETWORK } from '../store/index.js'

/** A session's source: its network, or the session itself when it has none (judgingSql's NETWORK). */
export const sourceOf = (r: { nt: string; session: string }) => (r.nt === '' ? `s:${r.session}` : r.nt)

/**
 * Sources added one by one (`n` sessions, `k` of them failed), to the counts and Judged, as
 * judgingSql's `judged` (`top`: VIGIL_MIN_FAILING_NETWORKS − 1).
 */
export const judging = (top: number) => {
  const j = { sessions: 0, failed: 0, judgedSessions: 0, judgedFailed: 0, failedNetworks: 0 }
  let sources = 0
  /** The sources with the most weighed failures, most first (of two with as many, the one with more sessions, as the SQL sorts them). */
  const tops: [number, number][] = []
  const add = (n: number, k: number) => {
    const w = Math.min(n, SESSIONS_PER_NETWORK)
    const kw = (k * w) / n
    sources++
    j.sessions += n
    j.failed += k
    j.judgedSessions += w
    j.judgedFailed += kw
    if (k > 0) j.failedNetworks++
    if (kw <= 0) return
    let i = tops.length
    while (i > 0 && (tops[i - 1]![0] < kw || (tops[i - 1]![0] === kw && tops[i - 1]![1] < w))) i--
    if (i >= top) return
    tops.splice(i, 0, [kw, w])
    if (tops.length > top) tops.pop()
  }
  const result = (): { sessions: number; failed: number } & Judged => ({
    ...j,
    topFailed: tops.reduce((s, [kw]) => s + kw - Math.min(kw, 1), 0),
    topSessions: tops.reduce((s, [, w]) => s + w - 1, 0),
  })
  return { add, result, sources: () => sources }
}
export type Judging = ReturnType<typeof judging>
