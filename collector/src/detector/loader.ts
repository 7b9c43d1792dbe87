/**
 * The reads of one look, batched: the windows every release of every project asks for at one
 * step are read together, one query per rollup (DetectorReads' window reads) however many
 * projects and releases; a window asked for twice in a look is read once; and a window wholly in
 * the past (a previous release's history before a release appeared) is kept across looks for
 * PAST_KEPT_MS, so a look reads it again only that often.
 */
import { historiesByPlace } from '../store/groupHistory.js'
import type { AboveQuestion, DetectorReads, ErrorGroup, FlowSessions, SessionCrashes, VitalAbove, VitalStat, Window } from '../store/index.js'
import { isCohortEnv } from './cohorts.js'
import type { SessionMemory } from './sessions.js'

/** A window that ended this long before a look no longer changes, but for late events... */
const SETTLED_MS = 60_000
/** ...which a window kept across looks takes in after at most this long. */
export const PAST_KEPT_MS = 5 * 60_000

/** Windows kept across looks, by key: the read, and until when it is kept. */
export type PastWindows = Map<string, { read: Promise<unknown>; until: number }>

/**
 * A read of one window that waits for the others asked for in the same turn of the event loop,
 * and reads them all at once.
 */
const batched = <V, W extends Window = Window>(run: (windows: W[]) => Promise<V[]>) => {
  let queue: { w: W; resolve: (v: V) => void; reject: (err: unknown) => void }[] = []
  const flush = async () => {
    const q = queue
    queue = []
    try {
      const out = await run(q.map((x) => x.w))
      q.forEach((x, i) => x.resolve(out[i]!))
    } catch (err) {
      for (const x of q) x.reject(err)
    }
  }
  return (w: W) =>
    new Promise<V>((resolve, reject) => {
      if (queue.push({ w, resolve, reject }) === 1) setImmediate(() => void flush())
    })
}

export type LookReads = {
  crashes: (w: Window) => Promise<SessionCrashes[]>
  flows: (w: Window) => Promise<FlowSessions[]>
  groups: (w: Window) => Promise<ErrorGroup[]>
  vitals: (w: Window) => Promise<VitalStat[]>
  /** Not kept: each question is asked once. */
  above: (q: AboveQuestion) => Promise<VitalAbove>
}

/** The memory's error groups of windows, with their histories: one read of their sightings for them all. */
const groupsWithHistory = (store: Pick<DetectorReads, 'sightingsOfGroups'>, memory: SessionMemory) => async (windows: Window[]) => {
  const rows = windows.map((w) => memory.groups(w))
  const asked = new Map<string, { project: string; env: string; fingerprint: string }>()
  // A cohort's groups have no history of their own (cohorts.ts gives them the window's).
  rows.forEach((gs, i) => gs.forEach((g) => isCohortEnv(g.env) || asked.set(`${windows[i]!.project}\u0000${g.env}\u0000${g.fingerprint}`, { project: windows[i]!.project, env: g.env, fingerprint: g.fingerprint })))
  const historyOf = historiesByPlace(await store.sightingsOfGroups([...asked.values()]))
  return rows.map((gs, i): ErrorGroup[] => gs.map((g) => ({ ...g, ...historyOf(windows[i]!.project, g.env)(g.fingerprint) })))
}

/**
 * The reads of a look at `now`; `past`: the windows kept across looks (the detector's); `memory`:
 * the sessions it keeps, which count the windows they cover (the rest is read from ClickHouse).
 */
export const lookReads = (store: DetectorReads, now: number, past: PastWindows, memory?: SessionMemory): LookReads => {
  for (const [key, kept] of past) if (kept.until <= now) past.delete(key)
  const look = new Map<string, Promise<unknown>>()
  const once =
    <V>(kind: string, read: (w: Window) => Promise<V>) =>
    (w: Window): Promise<V> => {
      const key = `${kind}\u0000${w.project}\u0000${w.from}\u0000${w.to}`
      const known = past.get(key)?.read ?? look.get(key)
      if (known) return known as Promise<V>
      const v = read(w)
      look.set(key, v)
      if (w.to < now - SETTLED_MS) {
        past.set(key, { read: v, until: now + PAST_KEPT_MS })
        v.catch(() => past.delete(key))
      }
      return v
    }
  /** Counted from the kept sessions where they cover the window, else read. */
  const either =
    <V, W extends Window = Window>(kept: ((w: W) => V | Promise<V>) | undefined, read: (w: W) => Promise<V>) =>
    (w: W): Promise<V> =>
      kept && memory?.covers(w) ? Promise.resolve(kept(w)) : read(w)
  return {
    crashes: once('crashes', either(memory?.crashes, batched(store.windowCrashes))),
    flows: once('flows', either(memory?.flows, batched(store.windowFlows))),
    groups: once('groups', either(memory && batched(groupsWithHistory(store, memory)), batched(store.windowErrorGroups))),
    vitals: once('vitals', either(memory?.vitals, batched(store.windowVitals))),
    above: either(memory?.above, batched(store.vitalsAbove)),
  }
}
