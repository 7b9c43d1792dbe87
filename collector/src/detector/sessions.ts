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

/** A look's mark is this far before it started: a row ClickHouse stored while the last look read is read again, never missed. */
const SLACK_MS = 30_000

type Kept = { health: Map<string, HealthRow>; flows: Map<string, FlowRow>; errors: Map<string, ErrorRow> }
type Source = { n: number; k: number }
type GroupRow = Omit<ErrorGroup, 'stackFingerprints' | 'seenIn' | 'firstSeen' | 'firstRelease'>

const key = (...parts: string[]) => parts.join('\u0000')
const active = (r: { f: number; l: number }, w: Window) => r.l >= w.from && r.f <= w.to
/** A session's source: its network, or the session itself when it has none (judgingSql's NETWORK). */
const sourceOf = (r: { nt: string; session: string }) => (r.nt === '' ? `s:${r.session}` : r.nt)

/** Per source `n` sessions, `k` failed: the counts and Judged, as judgingSql's `judged` (`top`: VIGIL_MIN_FAILING_NETWORKS − 1). */
export const judgedOf = (sources: Iterable<Source>, top: number): { sessions: number; failed: number } & Judged => {
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

/** Counts per group key and source. */
const tally = <T>() => {
  const groups = new Map<string, { row: T; sources: Map<string, Source> }>()
  return {
    add: (group: string, row: T, src: string, failed: boolean) => {
      let g = groups.get(group)
      if (!g) groups.set(group, (g = { row, sources: new Map() }))
      const s = g.sources.get(src) ?? { n: 0, k: 0 }
      g.sources.set(src, { n: s.n + 1, k: s.k + Number(failed) })
    },
    groups,
  }
}

export const sessionMemory = (o: { store: Pick<DetectorReads, 'storedSessions'>; horizonMs: number; minFailingNetworks: number }) => {
  const top = Math.max(0, o.minFailingNetworks - 1)
  const kept = new Map<string, Kept>()
  /** Wall-clock time (ClickHouse's `inserted`) from which the next look reads. */
  let mark = 0
  /** The look's time the memory holds sessions from (for windows starting there or later). */
  let holdsFrom = Infinity

  const put = (rows: StoredSessions) => {
    const of = (project: string) => {
      let k = kept.get(project)
      if (!k) kept.set(project, (k = { health: new Map(), flows: new Map(), errors: new Map() }))
      return k
    }
    for (const r of rows.health) of(r.project).health.set(key(r.env, r.release, r.session), r)
    for (const r of rows.flows) of(r.project).flows.set(key(r.env, r.release, r.flow, r.session), r)
    for (const r of rows.errors) of(r.project).errors.set(key(r.env, r.release, r.fingerprint, r.session), r)
  }

  /** Takes in what ClickHouse stored since the last look (everything for a project new to it), and lets go of the inactive. */
  const refresh = async (projects: string[], now: number) => {
    const since = now - o.horizonMs
    const started = Date.now()
    const fresh = projects.filter((p) => !kept.has(p))
    const known = projects.filter((p) => kept.has(p))
    put(await o.store.storedSessions(known, since, mark - SLACK_MS))
    for (const p of fresh) kept.set(p, { health: new Map(), flows: new Map(), errors: new Map() })
    put(await o.store.storedSessions(fresh, since))
    mark = started
    for (const [p, k] of kept) {
      if (!projects.includes(p)) kept.delete(p)
      else for (const m of [k.health, k.flows, k.errors] as Map<string, { l: number }>[]) for (const [id, r] of m) if (r.l < since) m.delete(id)
    }
    holdsFrom = Math.max(since, holdsFrom === Infinity ? since : holdsFrom)
  }

  /** Whether a window is counted here: its project kept, its start within the horizon. */
  const covers = (w: Window) => kept.has(w.project) && w.from >= holdsFrom

  const crashes = (w: Window): SessionCrashes[] => {
    const t = tally<HealthRow>()
    for (const r of kept.get(w.project)?.health.values() ?? [])
      if (active(r, w)) t.add(key(r.env, r.release), r, sourceOf(r), r.c > 0 && r.lc >= w.from)
    return [...t.groups.values()].map(({ row, sources }) => {
      const { failed, ...j } = judgedOf(sources.values(), top)
      return { env: row.env, release: row.release, ...j, crashed: failed }
    })
  }

  const flows = (w: Window): FlowSessions[] => {
    const t = tally<FlowRow>()
    const sums = new Map<string, { a: number; fl: number }>()
    for (const r of kept.get(w.project)?.flows.values() ?? []) {
      if (!active(r, w)) continue
      const g = key(r.env, r.release, r.flow)
      t.add(g, r, sourceOf(r), r.lf >= w.from)
      const s = sums.get(g) ?? { a: 0, fl: 0 }
      sums.set(g, { a: s.a + r.a, fl: s.fl + r.fl })
    }
    return [...t.groups].map(([g, { row, sources }]) => ({
      env: row.env,
      release: row.release,
      flow: row.flow,
      ...judgedOf(sources.values(), top),
      attempts: sums.get(g)!.a,
      failures: sums.get(g)!.fl,
    }))
  }

  /** The window's error groups, most sessions first, without their histories (errorGroups.ts's groupsInWindows). */
  const groups = (w: Window): GroupRow[] => {
    const k = kept.get(w.project)
    if (!k) return []
    // A network's sessions with the group weigh as its sessions in the release do.
    const inRelease = tally<HealthRow>()
    for (const r of k.health.values()) if (active(r, w)) inRelease.add(key(r.env, r.release), r, sourceOf(r), false)
    const byGroup = new Map<string, { rows: ErrorRow[]; sources: Map<string, Source> }>()
    for (const r of k.errors.values()) {
      if (!active(r, w)) continue
      const g = key(r.env, r.release, r.fingerprint)
      let x = byGroup.get(g)
      if (!x) byGroup.set(g, (x = { rows: [], sources: new Map() }))
      x.rows.push(r)
      const src = sourceOf(r)
      const s = x.sources.get(src) ?? { n: inRelease.groups.get(key(r.env, r.release))?.sources.get(src)?.n ?? 0, k: 0 }
      x.sources.set(src, { n: s.n, k: s.k + 1 })
    }
    const out = [...byGroup.values()].map(({ rows, sources }) => {
      const [first] = rows
      const weighed = [...sources.values()].map(({ n, k: kk }) => ({ n: Math.max(n, kk), k: kk }))
      const j = judgedOf(weighed.map(({ n, k: kk }) => ({ n, k: kk })), top)
      return {
        env: first!.env,
        release: first!.release,
        fingerprint: first!.fingerprint,
        sessions: j.failed,
        events: rows.reduce((s, r) => s + r.e, 0),
        type: first!.t,
        message: first!.m,
        stack: first!.st,
        handled: Math.min(...rows.map((r) => r.h)) as 0 | 1,
        judgedSessions: j.judgedFailed,
        networks: sources.size,
        topFailed: j.topFailed,
        topSessions: j.topSessions,
      }
    })
    return out.sort((a, b) => b.sessions - a.sessions || (a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0))
  }

  return { refresh, covers, crashes, flows, groups }
}
export type SessionMemory = ReturnType<typeof sessionMemory>
