/**
 * The sessions of the last hours, kept in memory by the detector: loaded whole once, then each
 * look only the sessions ClickHouse stored a row of since the last look (each read whole again,
 * so a session's sums never count twice), and let go once inactive for `horizonMs`. A look's
 * windows within that horizon are counted here — what SQL counts in detectorReads.ts and
 * errorGroups.ts, session by session, per client network weighed (Judged) — so its reads cost
 * what arrived, not the sessions of its window.
 */
import type { DetectorReads, ErrorGroup, ErrorRow, FlowRow, FlowSessions, HealthRow, Judged, SessionCrashes, StoredSessions, Window } from '../store/index.js'
import { SESSIONS_PER_NETWORK } from '../store/index.js'
import type { GroupHistory } from '../store/groupHistory.js'

/**
 * A look reads the rows ClickHouse stored since this long before the last look's read began (by
 * ClickHouse's clock): a row stored while that read ran, or on a shard whose clock is a little
 * behind, is read again rather than missed.
 */
const SLACK_MS = 10_000
/** How often kept sessions inactive for the horizon are let go (they count in no window meanwhile: windows start within it). */
const EVICT_EVERY_MS = 60_000
/** The most rows (sessions' health, flows, error groups) kept of one project... */
const MAX_ROWS = 1_000_000
/** ...past which it is read from ClickHouse, and tried again this much later. */
const BUSY_RETRY_MS = 10 * 60_000

type Source = { n: number; k: number }
type GroupRow = Omit<ErrorGroup, keyof GroupHistory>

const key = (...parts: string[]) => parts.join('\u0000')
/** A session's source: its network, or the session itself when it has none (judgingSql's NETWORK). */
const sourceOf = (r: { nt: string; session: string }) => (r.nt === '' ? `s:${r.session}` : r.nt)

/** Per source `n` sessions, `k` failed: the counts and Judged, as judgingSql's `judged` (`top`: VIGIL_MIN_FAILING_NETWORKS − 1). */
const judgedOf = (sources: Iterable<Source>, top: number): { sessions: number; failed: number } & Judged => {
  let sessions = 0
  let failed = 0
  let judgedSessions = 0
  let judgedFailed = 0
  let failedNetworks = 0
  const weighed: [number, number][] = []
  for (const { n, k } of sources) {
    const w = Math.min(n, SESSIONS_PER_NETWORK)
    const kw = (k * w) / n
    sessions += n
    failed += k
    judgedSessions += w
    judgedFailed += kw
    if (k > 0) failedNetworks++
    if (kw > 0) weighed.push([kw, w])
  }
  // Of two with as many failures, the one with more sessions (as the SQL sorts the pairs).
  const tops = weighed.sort((a, b) => b[0] - a[0] || b[1] - a[1]).slice(0, top)
  const topFailed = tops.reduce((s, [kw]) => s + kw - Math.min(kw, 1), 0)
  const topSessions = tops.reduce((s, [, w]) => s + w - 1, 0)
  return { sessions, failed, judgedSessions, judgedFailed, failedNetworks, topFailed, topSessions }
}

/** A kept row with its group (`g`: release, flow or error group) and its group-and-source key (`gs`), made once when it arrives. */
type Keyed<R> = R & { g: string; gs: string }

/**
 * A table's kept rows of a project as columns, for counting windows fast (built once per look):
 * each row's first and last activity, when it failed last (−∞: never), and its group-and-source
 * pair; each pair's group; each group's rows' first.
 */
type Columns<R> = { f: Float64Array; l: Float64Array; failedAt: Float64Array; pair: Int32Array; rows: Keyed<R>[]; pairGroup: number[]; pairSource: string[]; groups: Keyed<R>[] }

const columnsOf = <R extends { f: number; l: number }>(kept: Map<string, Keyed<R>>, failedAt: (r: R) => number): Columns<R> => {
  const rows = [...kept.values()]
  const c: Columns<R> = { f: new Float64Array(rows.length), l: new Float64Array(rows.length), failedAt: new Float64Array(rows.length), pair: new Int32Array(rows.length), rows, pairGroup: [], pairSource: [], groups: [] }
  const pairs = new Map<string, number>()
  const groups = new Map<string, number>()
  rows.forEach((r, i) => {
    c.f[i] = r.f
    c.l[i] = r.l
    c.failedAt[i] = failedAt(r)
    let p = pairs.get(r.gs)
    if (p === undefined) {
      let g = groups.get(r.g)
      if (g === undefined) groups.set(r.g, (g = c.groups.push(r) - 1))
      pairs.set(r.gs, (p = c.pairGroup.push(g) - 1))
      c.pairSource.push(r.gs.slice(r.g.length + 1))
    }
    c.pair[i] = p
  })
  return c
}

/** Per pair, the window's sessions (`n`) and those failed in it (`k`); `each` told of every active row. */
const countWindow = <R>(c: Columns<R>, w: Window, each?: (i: number) => void) => {
  const n = new Int32Array(c.pairGroup.length)
  const k = new Int32Array(c.pairGroup.length)
  for (let i = 0; i < c.l.length; i++) {
    if (c.l[i]! < w.from || c.f[i]! > w.to) continue
    n[c.pair[i]!]!++
    if (c.failedAt[i]! >= w.from) k[c.pair[i]!]!++
    each?.(i)
  }
  return { n, k }
}

/** Per group with a session in the window, its sources' counts. */
const bySource = <R>(c: Columns<R>, n: Int32Array, k: Int32Array) => {
  const out = new Map<number, Source[]>()
  for (let p = 0; p < n.length; p++) {
    if (n[p] === 0) continue
    const g = c.pairGroup[p]!
    const list = out.get(g)
    if (list) list.push({ n: n[p]!, k: k[p]! })
    else out.set(g, [{ n: n[p]!, k: k[p]! }])
  }
  return out
}

export const sessionMemory = (o: { store: Pick<DetectorReads, 'storedSessions'>; horizonMs: number; minFailingNetworks: number; maxRows?: number }) => {
  const top = Math.max(0, o.minFailingNetworks - 1)
  const maxRows = o.maxRows ?? MAX_ROWS
  /** A project's kept rows, and the look's time they hold every session from (windows starting there or later are counted here). */
  type Kept = { from: number; health: Map<string, Keyed<HealthRow>>; flows: Map<string, Keyed<FlowRow>>; errors: Map<string, Keyed<ErrorRow>>; columns?: ReturnType<typeof columns> }
  const kept = new Map<string, Kept>()
  /** Projects too busy to keep, until when (their windows are read from ClickHouse meanwhile). */
  const tooBusy = new Map<string, number>()
  /** ClickHouse's time (of `inserted`) the last look's read began at... */
  let mark = 0
  /** ...and the look's time inactive sessions were last let go. */
  let swept = -Infinity

  const keyed = <R extends { nt: string; session: string }>(r: R, ...group: string[]): Keyed<R> => {
    const g = key(...group)
    return { ...r, g, gs: key(g, sourceOf(r)) }
  }
  const put = (rows: StoredSessions) => {
    const of = (project: string) => {
      const k = kept.get(project)
      if (k) k.columns = undefined
      return k
    }
    for (const r of rows.health) of(r.project)?.health.set(key(r.env, r.release, r.session), keyed(r, r.env, r.release))
    for (const r of rows.flows) of(r.project)?.flows.set(key(r.env, r.release, r.flow, r.session), keyed(r, r.env, r.release, r.flow))
    for (const r of rows.errors) of(r.project)?.errors.set(key(r.env, r.release, r.fingerprint, r.session), keyed(r, r.env, r.release, r.fingerprint))
  }
  const size = (k: Kept) => k.health.size + k.flows.size + k.errors.size

  /**
   * Takes in what ClickHouse stored since the last look (everything for a project new to it), and
   * lets go of the inactive. `sessions`: about how many sessions each project has had lately
   * (its releases' today): a project past `maxRows` is not kept — a stranger with the key cannot
   * fill the detector's memory — and is tried again BUSY_RETRY_MS later.
   */
  const refresh = async (projects: string[], now: number, sessions: (project: string) => number) => {
    const since = now - o.horizonMs
    // A project no longer looked at is forgotten: it would miss what arrives meanwhile.
    for (const p of kept.keys()) if (!projects.includes(p)) kept.delete(p)
    const known = projects.filter((p) => kept.has(p))
    // About two rows a session (its health, a flow or an error group).
    const fresh = projects.filter((p) => !kept.has(p) && (tooBusy.get(p) ?? -Infinity) <= now && 2 * sessions(p) <= maxRows)
    const stored = await o.store.storedSessions(known, since, mark - SLACK_MS)
    put(stored)
    for (const p of fresh) kept.set(p, { from: since, health: new Map(), flows: new Map(), errors: new Map() })
    put(await o.store.storedSessions(fresh, since))
    mark = stored.at
    for (const [p, k] of kept)
      if (size(k) > maxRows) {
        kept.delete(p)
        tooBusy.set(p, now + BUSY_RETRY_MS)
      }
    // Letting go costs a pass over every kept session: once a minute is soon enough.
    if (now - swept < EVICT_EVERY_MS) return
    swept = now
    for (const k of kept.values()) {
      k.from = Math.max(k.from, since)
      for (const m of [k.health, k.flows, k.errors] as Map<string, { l: number }>[])
        for (const [id, r] of m)
          if (r.l < since) {
            m.delete(id)
            k.columns = undefined
          }
    }
  }

  const columns = (k: Pick<Kept, 'health' | 'flows' | 'errors'>) => ({
    health: columnsOf(k.health, (r) => (r.c > 0 ? r.lc : -Infinity)),
    flows: columnsOf(k.flows, (r) => r.lf),
    errors: columnsOf(k.errors, () => -Infinity),
  })
  const columnsFor = (project: string) => {
    const k = kept.get(project)
    if (!k) return undefined
    return (k.columns ??= columns(k))
  }

  /** Whether a window is counted here: its project kept, its start where the kept sessions are whole. */
  const covers = (w: Window) => w.from >= (kept.get(w.project)?.from ?? Infinity)

  const crashes = (w: Window): SessionCrashes[] => {
    const c = columnsFor(w.project)?.health
    if (!c) return []
    const { n, k } = countWindow(c, w)
    return [...bySource(c, n, k)].map(([g, sources]) => {
      const { failed, ...j } = judgedOf(sources, top)
      return { env: c.groups[g]!.env, release: c.groups[g]!.release, ...j, crashed: failed }
    })
  }

  const flows = (w: Window): FlowSessions[] => {
    const c = columnsFor(w.project)?.flows
    if (!c) return []
    const sums = c.groups.map(() => ({ a: 0, fl: 0 }))
    const { n, k } = countWindow(c, w, (i) => {
      const s = sums[c.pairGroup[c.pair[i]!]!]!
      s.a += c.rows[i]!.a
      s.fl += c.rows[i]!.fl
    })
    return [...bySource(c, n, k)].map(([g, sources]) => {
      const r = c.groups[g]!
      return { env: r.env, release: r.release, flow: r.flow, ...judgedOf(sources, top), attempts: sums[g]!.a, failures: sums[g]!.fl }
    })
  }

  /** The window's error groups, most sessions first, without their histories (errorGroups.ts's groupsInWindows). */
  const groups = (w: Window): GroupRow[] => {
    const cs = columnsFor(w.project)
    if (!cs) return []
    // A network's sessions with the group weigh as its sessions in the release do.
    const inRelease = countWindow(cs.health, w).n
    const releaseSessions = new Map<string, number>()
    cs.health.pairGroup.forEach((g, p) => inRelease[p] && releaseSessions.set(key(cs.health.groups[g]!.g, cs.health.pairSource[p]!), inRelease[p]!))
    const c = cs.errors
    const sums = c.groups.map(() => ({ e: 0, h: 1 }))
    const { n } = countWindow(c, w, (i) => {
      const s = sums[c.pairGroup[c.pair[i]!]!]!
      s.e += c.rows[i]!.e
      s.h = Math.min(s.h, c.rows[i]!.h)
    })
    const weighed = new Int32Array(n.length)
    c.pairGroup.forEach((g, p) => (weighed[p] = n[p] ? Math.max(releaseSessions.get(key(c.groups[g]!.env, c.groups[g]!.release, c.pairSource[p]!)) ?? 0, n[p]!) : 0))
    const out = [...bySource(c, weighed, n)].map(([g, sources]): GroupRow => {
      const r = c.groups[g]!
      const j = judgedOf(sources, top)
      const common = { judgedSessions: j.judgedFailed, networks: sources.length, topFailed: j.topFailed, topSessions: j.topSessions }
      return { env: r.env, release: r.release, fingerprint: r.fingerprint, sessions: j.failed, events: sums[g]!.e, type: r.t, message: r.m, stack: r.st, handled: sums[g]!.h as 0 | 1, ...common }
    })
    return out.sort((a, b) => b.sessions - a.sessions || (a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0))
  }

  return { refresh, covers, crashes, flows, groups }
}
export type SessionMemory = ReturnType<typeof sessionMemory>
