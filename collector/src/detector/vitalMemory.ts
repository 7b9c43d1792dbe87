/**
 * The web vitals of the sessions the detector keeps (sessions.ts), counted per window as
 * store/vitalReads.ts counts them in ClickHouse: each release's p75 and samples of each vital,
 * and how many of a release's samples are above a threshold, per client network weighed (Judged).
 */
import type { AboveQuestion, VitalAbove, VitalRow, VitalStat, Window } from '../store/index.js'
import { judging, sourceOf } from './judged.js'
import { numbering } from './numbering.js'

/**
 * A project's kept samples as columns, built once per look: grouped by release and vital (group
 * `g`'s are `start[g]` to `start[g + 1]`), each with its time, value and source (numbered per group).
 */
export type VitalColumns = {
  groups: { env: string; release: string; name: string }[]
  start: Int32Array
  ts: Float64Array
  value: Float64Array
  source: Int32Array
  /** Per group, how many sources it has. */
  sources: Int32Array
}

const key = (...parts: string[]) => parts.join('\u0000')
/** Samples that weigh as one kept row of the other rollups. */
const SAMPLES_PER_ROW = 5

/**
 * A project's kept sessions' vitals: each sample numbered by its group and, within it, its source
 * when its session's row arrives (numbering.ts), so a look turns them into columns with no string work.
 */
export const keptVitals = () => {
  /** Each sample's pair of group and source (numbering.ts). */
  const rows = new Map<string, { r: VitalRow; p: Int32Array }>()
  const ids = numbering<VitalColumns['groups'][number]>()
  let columns: VitalColumns | undefined
  /** How many samples the rows hold. */
  let samples = 0

  const number = (r: VitalRow) => {
    const src = sourceOf(r)
    return { r, p: Int32Array.from(r.vn, (name) => ids.pair(key(r.env, r.release, name), src, () => ({ env: r.env, release: r.release, name }))) }
  }

  return {
    /** A session's samples (`id`), in place of those it had. */
    set: (id: string, r: VitalRow) => {
      samples += r.vn.length - (rows.get(id)?.p.length ?? 0)
      rows.set(id, number(r))
      columns = undefined
    },
    /** Lets go of the sessions inactive since `since`, and numbers the rest anew. */
    evict: (since: number) => {
      ids.reset()
      for (const [id, x] of rows) {
        if (x.r.l >= since) rows.set(id, number(x.r))
        else {
          rows.delete(id)
          samples -= x.p.length
        }
      }
      columns = undefined
    },
    /** What the samples weigh against the detector's limit on kept rows: a page load's five as one row (about its memory). */
    get size() {
      return Math.ceil(samples / SAMPLES_PER_ROW)
    },
    columns: (): VitalColumns => {
      if (columns) return columns
      const { groups } = ids
      const start = new Int32Array(groups.length + 1)
      for (const { p } of rows.values()) for (let j = 0; j < p.length; j++) start[ids.groupOf(p[j]!) + 1]!++
      for (let i = 0; i < groups.length; i++) start[i + 1]! += start[i]!
      const at = start.slice(0, groups.length)
      const n = start[groups.length]!
      const c: VitalColumns = { groups: [...groups], start, ts: new Float64Array(n), value: new Float64Array(n), source: new Int32Array(n), sources: Int32Array.from(ids.sources) }
      for (const { r, p } of rows.values())
        for (let j = 0; j < p.length; j++) {
          const x = at[ids.groupOf(p[j]!)]!++
          c.ts[x] = r.vt[j]!
          c.value[x] = r.vv[j]!
          c.source[x] = ids.localOf(p[j]!)
        }
      return (columns = c)
    },
  }
}
export type KeptVitals = ReturnType<typeof keptVitals>

/** Moves the `k`-th smallest of `a` to `a[k]`, the smaller before it, the larger after it (Hoare's selection: linear on average). */
const select = (a: Float64Array, k: number) => {
  let lo = 0
  let hi = a.length - 1
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1]!
    let i = lo
    let j = hi
    while (i <= j) {
      while (a[i]! < pivot) i++
      while (a[j]! > pivot) j--
      if (i <= j) {
        const t = a[i]!
        a[i++] = a[j]!
        a[j--] = t
      }
    }
    if (k <= j) hi = j
    else if (k >= i) lo = i
    else return
  }
}

/** The value at `level` of values (reordered), between the two nearest (R7: ClickHouse's quantileExactInclusive). */
const quantile = (values: Float64Array, level: number) => {
  const x = level * (values.length - 1)
  const i = Math.floor(x)
  select(values, i)
  if (i + 1 >= values.length) return values[i]!
  let next = Infinity
  for (let p = i + 1; p < values.length; p++) if (values[p]! < next) next = values[p]!
  return values[i]! + (next - values[i]!) * (x - i)
}

/** Per release and vital with a sample in the window, its p75 and samples. */
export const vitalsIn = (c: VitalColumns, w: Window): VitalStat[] => {
  const out: VitalStat[] = []
  const values = new Float64Array(c.ts.length)
  c.groups.forEach((g, i) => {
    let m = 0
    for (let p = c.start[i]!; p < c.start[i + 1]!; p++) if (c.ts[p]! >= w.from && c.ts[p]! <= w.to) values[m++] = c.value[p]!
    if (m > 0) out.push({ ...g, p75: quantile(values.subarray(0, m), 0.75), samples: m })
  })
  return out
}

/** A question's samples in its window above its threshold, per source weighed (`top`: VIGIL_MIN_FAILING_NETWORKS − 1). */
export const aboveIn = (c: VitalColumns, q: AboveQuestion, top: number): VitalAbove => {
  const g = c.groups.findIndex((x) => x.env === q.env && x.release === q.release && x.name === q.name)
  const [from, to] = g < 0 ? [0, 0] : [c.start[g]!, c.start[g + 1]!]
  const n = new Int32Array(g < 0 ? 0 : c.sources[g]!)
  const k = new Int32Array(n.length)
  for (let p = from; p < to; p++) {
    if (c.ts[p]! < q.from || c.ts[p]! > q.to) continue
    n[c.source[p]!]!++
    if (c.value[p]! > q.threshold) k[c.source[p]!]!++
  }
  const j = judging(top)
  for (let s = 0; s < n.length; s++) if (n[s]! > 0) j.add(n[s]!, k[s]!)
  const { sessions, failed, ...judged } = j.result()
  return { samples: sessions, above: failed, ...judged }
}
