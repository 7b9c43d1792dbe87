/**
 * One per-session rollup's rows as the detector keeps them (sessions.ts): each row numbered by its
 * group (a release, a flow, an error group) and source (its client network) when it arrives
 * (numbering.ts), so a look turns them into columns with no string work, and counts a window over
 * the columns: per group its sessions and failed sessions, per source
 * weighed (Judged), and the sums of its rows' numbers.
 */
import { judging, type Judging } from './judged.js'
import { numbering } from './numbering.js'

/** A kept row's first and last activity, and its session's source (judged.ts's sourceOf). */
type Row = { f: number; l: number }

/**
 * The rows as columns (built once per look): each row's activity, when it failed last (−∞:
 * never), its group-and-source pair, and its numbers (`values`, in the order given).
 */
type Columns = { f: Float64Array; l: Float64Array; failedAt: Float64Array; pair: Int32Array; values: Float64Array[] }

export const keptTable = <R extends Row>(failedAt: (r: R) => number, values: ((r: R) => number)[] = []) => {
  const rows = new Map<string, { r: R; g: string; s: string; p: number }>()
  /** Groups are their first rows. */
  const ids = numbering<R>()
  let columns: Columns | undefined

  /** A session's row (`id`) of group `g` from source `s`, in place of the one it had. */
  const set = (id: string, r: R, g: string, s: string) => {
    rows.set(id, { r, g, s, p: ids.pair(g, s, () => r) })
    columns = undefined
  }

  /** Lets go of the rows inactive since `since`, and numbers the rest anew. */
  const evict = (since: number) => {
    for (const [id, x] of rows) if (x.r.l < since) rows.delete(id)
    ids.reset()
    for (const x of rows.values()) x.p = ids.pair(x.g, x.s, () => x.r)
    columns = undefined
  }

  const columnsOf = (): Columns => {
    if (columns) return columns
    const n = rows.size
    const c: Columns = { f: new Float64Array(n), l: new Float64Array(n), failedAt: new Float64Array(n), pair: new Int32Array(n), values: values.map(() => new Float64Array(n)) }
    let i = 0
    for (const { r, p } of rows.values()) {
      c.f[i] = r.f
      c.l[i] = r.l
      c.failedAt[i] = failedAt(r)
      c.pair[i] = p
      for (let v = 0; v < values.length; v++) c.values[v]![i] = values[v]!(r)
      i++
    }
    return (columns = c)
  }

  /**
   * A window counted: per pair its sessions (`n`) and those failed in it (`k`), and per group the
   * sums of its active rows' values (`sums[v][group]`).
   */
  const count = (w: { from: number; to: number }) => {
    const c = columnsOf()
    const n = new Int32Array(ids.pairs)
    const k = new Int32Array(ids.pairs)
    const sums = values.map(() => new Float64Array(ids.groups.length))
    for (let i = 0; i < c.l.length; i++) {
      if (c.l[i]! < w.from || c.f[i]! > w.to) continue
      const p = c.pair[i]!
      n[p]!++
      if (c.failedAt[i]! >= w.from) k[p]!++
      for (let v = 0; v < sums.length; v++) sums[v]![ids.groupOf(p)]! += c.values[v]![i]!
    }
    return { n, k, sums }
  }

  /** Per group with a count (`n` > 0) in it, Judged over its pairs' counts (`top`: VIGIL_MIN_FAILING_NETWORKS − 1). */
  const judged = (n: Int32Array, k: Int32Array, top: number) => {
    const out = new Map<number, Judging>()
    for (let p = 0; p < n.length; p++) {
      if (n[p] === 0) continue
      const g = ids.groupOf(p)
      let j = out.get(g)
      if (!j) out.set(g, (j = judging(top)))
      j.add(n[p]!, k[p]!)
    }
    return out
  }

  return {
    set,
    evict,
    count,
    judged,
    get size() {
      return rows.size
    },
    /** Group `g`'s first row. */
    group: ids.group,
    /** The pair of group key `g` and source `s`, if any row has it. */
    pairOf: ids.pairOf,
    /** Pair `p`'s group and source. */
    pair: (p: number) => ({ group: ids.groupOf(p), source: ids.sourceOf(p) }),
  }
}
