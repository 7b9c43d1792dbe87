/**
 * The sessions of the last hours, kept in memory by the detector: loaded whole once, then each
 * look only the sessions ClickHouse stored a row of since the last look (each read whole again,
 * so a session's sums never count twice), and let go once inactive for `horizonMs`. A look's
 * windows within that horizon are counted here — what SQL counts in detectorReads.ts,
 * errorGroups.ts and vitalReads.ts, session by session, per client network weighed (Judged) — so
 * its reads cost what arrived, not the sessions of its window.
 */
import type { AboveQuestion, DetectorReads, ErrorGroup, ErrorRow, FlowRow, FlowSessions, HealthRow, SessionCrashes, StoredSessions, Window } from '../store/index.js'
import type { GroupHistory } from '../store/groupHistory.js'
import { withCohorts } from './cohorts.js'
import { sourceOf } from './judged.js'
import { keptTable } from './keptTable.js'
import { aboveIn, keptVitals, vitalsIn, type KeptVitals } from './vitalMemory.js'

/**
 * A look reads the rows ClickHouse stored since this long before the last look's read began (by
 * ClickHouse's clock): a row stored while that read ran, or on a shard whose clock is a little
 * behind, is read again rather than missed.
 */
const SLACK_MS = 10_000
/** How often kept sessions inactive for the horizon are let go (they count in no window meanwhile: windows start within it). */
const EVICT_EVERY_MS = 60_000
/** The most rows (sessions' health, flows, error groups; five web-vital samples weigh as one) kept of one project... */
const MAX_ROWS = 1_000_000
/** ...past which it is read from ClickHouse, and tried again this much later. */
const BUSY_RETRY_MS = 10 * 60_000

type GroupRow = Omit<ErrorGroup, keyof GroupHistory>

const key = (...parts: string[]) => parts.join('\u0000')

export const sessionMemory = (o: { store: Pick<DetectorReads, 'storedSessions'>; horizonMs: number; minFailingNetworks: number; maxRows?: number }) => {
  const top = Math.max(0, o.minFailingNetworks - 1)
  const maxRows = o.maxRows ?? MAX_ROWS
  /** A project's kept rows, and the look's time they hold every session from (windows starting there or later are counted here). */
  type Kept = {
    from: number
    health: ReturnType<typeof healthTable>
    flows: ReturnType<typeof flowTable>
    errors: ReturnType<typeof errorTable>
    vitals: KeptVitals
  }
  const healthTable = () => keptTable<HealthRow>((r) => (r.c > 0 ? r.lc : -Infinity))
  const flowTable = () => keptTable<FlowRow>((r) => r.lf, [(r) => r.a, (r) => r.fl])
  // Handled: a group is handled when every one of its rows is (none is not).
  const errorTable = () => keptTable<ErrorRow>(() => -Infinity, [(r) => r.e, (r) => 1 - r.h])
  const kept = new Map<string, Kept>()
  /** Projects too busy to keep, until when (their windows are read from ClickHouse meanwhile). */
  const tooBusy = new Map<string, number>()
  /** ClickHouse's time (of `inserted`) the last look's read began at... */
  let mark = 0
  /** ...and the look's time inactive sessions were last let go. */
  let swept = -Infinity

  /**
   * Rows taken in: each session's health, flows and errors also count, a second time, in each
   * cohort of its flags (cohorts.ts: its environment the release's flag, its release the
   * variant), so a look counts a cohort's windows as a release's. A session is read whole, its
   * flags with it: a copy's id leaves the variant out, so a session whose variant changed
   * moves to the new one.
   */
  const put = (rows: StoredSessions) => {
    const inCohorts = withCohorts(rows.flags)
    for (const [r, id] of inCohorts(rows.health)) kept.get(r.project)?.health.set(key(r.env, id, r.session), r, key(r.env, r.release), sourceOf(r))
    for (const [r, id] of inCohorts(rows.flows)) kept.get(r.project)?.flows.set(key(r.env, id, r.kind, r.flow, r.session), r, key(r.env, r.release, r.kind, r.flow), sourceOf(r))
    for (const [r, id] of inCohorts(rows.errors)) kept.get(r.project)?.errors.set(key(r.env, id, r.fingerprint, r.session), r, key(r.env, r.release, r.fingerprint), sourceOf(r))
    for (const r of rows.vitals) kept.get(r.project)?.vitals.set(key(r.env, r.release, r.session), r)
  }
  const size = (k: Kept) => k.health.size + k.flows.size + k.errors.size + k.vitals.size

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
    // About three rows a session (its health, a flow or an error group, its vitals).
    const fresh = projects.filter((p) => !kept.has(p) && (tooBusy.get(p) ?? -Infinity) <= now && 3 * sessions(p) <= maxRows)
    const stored = await o.store.storedSessions(known, since, mark - SLACK_MS)
    put(stored)
    for (const p of fresh) kept.set(p, { from: since, health: healthTable(), flows: flowTable(), errors: errorTable(), vitals: keptVitals() })
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
      for (const t of [k.health, k.flows, k.errors, k.vitals]) t.evict(since)
    }
  }

  /** Whether a window is counted here: its project kept, its start where the kept sessions are whole. */
  const covers = (w: Window) => w.from >= (kept.get(w.project)?.from ?? Infinity)

  const crashes = (w: Window): SessionCrashes[] => {
    const t = kept.get(w.project)?.health
    if (!t) return []
    const { n, k } = t.count(w)
    return [...t.judged(n, k, top)].map(([g, j]) => {
      const { failed, ...counts } = j.result()
      return { env: t.group(g).env, release: t.group(g).release, ...counts, crashed: failed }
    })
  }

  const flows = (w: Window): FlowSessions[] => {
    const t = kept.get(w.project)?.flows
    if (!t) return []
    const { n, k, sums } = t.count(w)
    return [...t.judged(n, k, top)].map(([g, j]) => {
      const r = t.group(g)
      return { env: r.env, release: r.release, flow: r.flow, kind: r.kind, ...j.result(), attempts: sums[0]![g]!, failures: sums[1]![g]! }
    })
  }

  /** The window's error groups, most sessions first, without their histories (errorGroups.ts's groupsInWindows). */
  const groups = (w: Window): GroupRow[] => {
    const k = kept.get(w.project)
    if (!k) return []
    // A network's sessions with the group weigh as its sessions in the release do.
    const inRelease = k.health.count(w).n
    const { n, sums } = k.errors.count(w)
    const weighed = new Int32Array(n.length)
    for (let p = 0; p < n.length; p++) {
      if (n[p] === 0) continue
      const { group, source } = k.errors.pair(p)
      const r = k.errors.group(group)
      const h = k.health.pairOf(key(r.env, r.release), source)
      weighed[p] = Math.max(h === undefined ? 0 : inRelease[h]!, n[p]!)
    }
    const out = [...k.errors.judged(weighed, n, top)].map(([g, judging]): GroupRow => {
      const r = k.errors.group(g)
      const j = judging.result()
      const common = { judgedSessions: j.judgedFailed, networks: judging.sources(), topFailed: j.topFailed, topSessions: j.topSessions }
      return { env: r.env, release: r.release, fingerprint: r.fingerprint, sessions: j.failed, events: sums[0]![g]!, type: r.t, message: r.m, stack: r.st, handled: sums[1]![g]! > 0 ? 0 : 1, ...common }
    })
    return out.sort((a, b) => b.sessions - a.sessions || (a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0))
  }

  const noVitals = keptVitals()
  const vitalsOf = (project: string) => (kept.get(project)?.vitals ?? noVitals).columns()
  const vitals = (w: Window) => vitalsIn(vitalsOf(w.project), w)
  const above = (q: AboveQuestion) => aboveIn(vitalsOf(q.project), q, top)

  return { refresh, covers, crashes, flows, groups, vitals, above }
}
export type SessionMemory = ReturnType<typeof sessionMemory>
