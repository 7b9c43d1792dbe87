import { randomInt } from 'node:crypto'
import type { EventRow, ReleaseSummary } from '../store/types.js'
import type { Rejection } from './normalise.js'
import type { EventRefusal } from './refusals.js'

/** Distinct names a project may bring within the window, by kind; 0: no limit. */
export type CardinalityLimits = { releases: number; environments: number; flows: number; endpoints: number; flagVariants: number; tags: number; errorGroups: number }

export type CardinalityOptions = { limits: CardinalityLimits; windowMs: number }

/** The kinds of name that are limited, in the order an event is checked, with the code of a refusal. */
const KINDS = [
  { limit: 'environments', code: 'too_many_environments', what: 'environment', env: 'VIGIL_LIMIT_ENVIRONMENTS', nameOf: (r: EventRow) => r.env },
  { limit: 'releases', code: 'too_many_releases', what: 'release', env: 'VIGIL_LIMIT_RELEASES', nameOf: (r: EventRow) => r.release },
  { limit: 'flows', code: 'too_many_flows', what: 'flow', env: 'VIGIL_LIMIT_FLOWS', nameOf: (r: EventRow) => (r.kind === 'flow' ? r.name : undefined) },
  { limit: 'endpoints', code: 'too_many_endpoints', what: 'endpoint', env: 'VIGIL_LIMIT_ENDPOINTS', nameOf: (r: EventRow) => (r.kind === 'request' ? r.name : undefined) },
  {
    limit: 'flagVariants',
    code: 'too_many_flag_variants',
    what: 'flag variant',
    env: 'VIGIL_LIMIT_FLAG_VARIANTS',
    nameOf: (r: EventRow) => (r.kind === 'flag' ? `${r.name}=${r.outcome}` : undefined),
  },
  { limit: 'tags', code: 'too_many_tags', what: 'tag', env: 'VIGIL_LIMIT_TAGS', nameOf: (r: EventRow) => (r.kind === 'tag' ? `${r.name}=${r.outcome}` : undefined) },
  {
    limit: 'errorGroups',
    code: 'too_many_error_groups',
    what: 'error group',
    env: 'VIGIL_LIMIT_ERROR_GROUPS',
    nameOf: (r: EventRow) => (r.kind === 'error' ? r.fingerprint : undefined),
  },
] as const satisfies readonly { limit: keyof CardinalityLimits; code: EventRefusal; what: string; env: string; nameOf: (r: EventRow) => string | undefined }[]

export type CardinalityRefusal = { code: (typeof KINDS)[number]['code']; message: string }

/**
 * A new name past the limit takes the place of the least used name only once it has been refused
 * this often (what a real release loses of its first events while a flood holds every place)...
 */
const MIN_PROMOTION = 10
/** ...and at least twice as often as that name was used: each such swap doubles the bar for the next ones. */
const PROMOTION_FACTOR = 2
/** Names unseen for the window are let go at most this often (a sweep costs a pass over the names). */
const SWEEP_MS = 1000
/** The count-min sketch of refused names: rows × width counters (16 KiB), made only when a limit is reached. */
const SKETCH_ROWS = 4
const SKETCH_WIDTH = 1024

/** A name held: when last seen, and how many events it brought (halved every window). */
type Held = { last: number; weight: number }
/** `sketched`: the events counted in the sketch (halved with it). */
type Tracker = { names: Map<string, Held>; epoch: number; swept: number; sketch?: Uint32Array; sketched: number }
/** A release as storage saw it, for `seed`. */
type Seen = Pick<ReleaseSummary, 'env' | 'release' | 'events' | 'lastSeen'>
type Decision = { held: Held } | { room: true } | { victim: string; weight: number } | { out: true }

/**
 * How many distinct releases, environments, flows, endpoints, flag variants, tags and error groups each project brings, so a
 * sender with the public key cannot make storage, the detector and the dashboard carry ten
 * thousand names. Per project and kind, at most `limit` names are held; a name seen within the
 * window stays held, one unseen for the window is let go. A new name past the limit is refused —
 * unless it is used more than the least used name held: refusals of names not held are counted
 * in a small sketch, and a name refused at least MIN_PROMOTION times and twice as often as the
 * least used name brought events takes its place. So whoever holds the places must keep using
 * all of them more than a real new release is used (events on every name, every window), and the
 * places that change hands in a window grow with the logarithm of the events spent, not with them.
 * Memory: the names held and one sketch per project and kind.
 */
export const createCardinality = (o: CardinalityOptions) => {
  const projects = new Map<string, Tracker[]>()
  // The sketch's hashes are seeded per process: a sender cannot choose names that collide.
  const seeds = [randomInt(2 ** 31), randomInt(2 ** 31)]

  const trackers = (project: string) => {
    let t = projects.get(project)
    if (!t) projects.set(project, (t = KINDS.map(() => ({ names: new Map(), epoch: 0, swept: 0, sketched: 0 }))))
    return t
  }

  const hash = (s: string, seed: number) => {
    let h = seed
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
    // FNV's low bits depend only on the low bits of the input: names that differ in their last
    // characters (`flood-1`, `flood-2`, …) would crowd a few counters. Murmur3's finaliser mixes
    // every bit into the low ones the counters are chosen by.
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
    return (h ^ (h >>> 16)) >>> 0
  }
  /** The sketch's counter of `name` in each row. */
  const cells = (name: string) => {
    const a = hash(name, seeds[0]!)
    const b = hash(name, seeds[1]!) | 1
    return Array.from({ length: SKETCH_ROWS }, (_, i) => i * SKETCH_WIDTH + ((a + i * b) >>> 0) % SKETCH_WIDTH)
  }

  /** Weights and the sketch halve at every window's turn: what counts is the last window or two. */
  const age = (t: Tracker, now: number) => {
    const epoch = Math.floor(now / o.windowMs)
    if (epoch === t.epoch) return
    const halvings = Math.min(epoch - t.epoch, 32)
    t.epoch = epoch
    for (const h of t.names.values()) h.weight /= 2 ** halvings
    if (t.sketch) for (let i = 0; i < t.sketch.length; i++) t.sketch[i] = Math.floor(t.sketch[i]! / 2 ** halvings)
    t.sketched /= 2 ** halvings
  }

  const sweep = (t: Tracker, now: number) => {
    if (now - t.swept < SWEEP_MS) return
    t.swept = now
    for (const [name, h] of t.names) if (h.last <= now - o.windowMs) t.names.delete(name)
  }

  const decide = (t: Tracker, limit: number, name: string, now: number): Decision => {
    age(t, now)
    const held = t.names.get(name)
    if (held) return { held }
    if (t.names.size >= limit) sweep(t, now)
    if (t.names.size < limit) return { room: true }
    // How often it was refused, this time included: the sketch's count, less what the other names
    // put in each counter on average (a flood of names each sent once must not add up to a promotion).
    const refused = (t.sketch ? Math.min(...cells(name).map((c) => t.sketch![c]!)) - t.sketched / SKETCH_WIDTH : 0) + 1
    if (refused < MIN_PROMOTION) return { out: true }
    let victim: string | undefined
    let least = Infinity
    for (const [n, h] of t.names) if (h.weight < least) [victim, least] = [n, h.weight]
    return victim !== undefined && refused >= PROMOTION_FACTOR * least ? { victim, weight: refused } : { out: true }
  }

  const hold = (t: Tracker, name: string, d: Decision, now: number) => {
    if ('held' in d) {
      d.held.last = now
      d.held.weight++
      return
    }
    if ('victim' in d) t.names.delete(d.victim)
    t.names.set(name, { last: now, weight: 'victim' in d ? d.weight : 1 })
  }

  const refuse = (t: Tracker, name: string) => {
    t.sketch ??= new Uint32Array(SKETCH_ROWS * SKETCH_WIDTH)
    for (const c of cells(name)) t.sketch[c] = Math.min(t.sketch[c]! + 1, 0xffffffff)
    t.sketched++
  }

  /**
   * Takes an event in, or says why not (`too_many_releases`, …): it is held in every kind or in
   * none, so a refused event takes no place.
   */
  const admit = (project: string, row: EventRow, now: number): CardinalityRefusal | undefined => {
    const t = trackers(project)
    const decisions: [Tracker, string, Decision][] = []
    let refusal: CardinalityRefusal | undefined
    for (const [i, k] of KINDS.entries()) {
      const limit = o.limits[k.limit]
      const name = k.nameOf(row)
      if (limit === 0 || name === undefined) continue
      const d = decide(t[i]!, limit, name, now)
      if ('out' in d) {
        refuse(t[i]!, name)
        refusal ??= {
          code: k.code,
          message: `${k.what} ${JSON.stringify(name.slice(0, 100))} is one more than the ${limit} this project may bring within ${o.windowMs / 60_000} min (${k.env})`,
        }
      }
      decisions.push([t[i]!, name, d])
    }
    if (refusal) return refusal
    for (const [tracker, name, d] of decisions) hold(tracker, name, d, now)
    return undefined
  }

  /**
   * The rows of a batch within the limits. `rows` are the events of the batch that `rejected` does
   * not name, in order; each row refused here is added to `rejected` by its event's index.
   */
  const keep = (project: string, rows: EventRow[], rejected: Rejection[], now: number): EventRow[] => {
    const invalid = new Set(rejected.map((r) => r.index))
    const kept: EventRow[] = []
    let index = 0
    let cut = false
    for (const row of rows) {
      while (invalid.has(index)) index++
      const refusal = admit(project, row, now)
      if (refusal) {
        rejected.push({ index, ...refusal })
        cut = true
      } else kept.push(row)
      index++
    }
    if (cut) rejected.sort((a, b) => a.index - b.index)
    return kept
  }

  /**
   * Holds the releases and environments storage saw within the window, the busiest first, with
   * the events they brought as their weight: a restart opens none of their places to a flood.
   * (Flows and error groups start afresh.)
   */
  const seed = (project: string, releases: Seen[], now: number) => {
    const recent = releases.filter((r) => r.lastSeen > now - o.windowMs)
    const t = trackers(project)
    for (const [kind, nameOf] of [['environments', (r: Seen) => r.env], ['releases', (r: Seen) => r.release]] as const) {
      const names = new Map<string, Held>()
      for (const r of recent) {
        const h = names.get(nameOf(r))
        names.set(nameOf(r), { weight: (h?.weight ?? 0) + r.events, last: Math.max(h?.last ?? 0, r.lastSeen) })
      }
      const tracker = t[KINDS.findIndex((k) => k.limit === kind)]!
      age(tracker, now)
      for (const [name, h] of [...names].sort((a, b) => b[1].weight - a[1].weight)) if (tracker.names.size < o.limits[kind]) tracker.names.set(name, h)
    }
  }

  return { admit, keep, seed }
}
export type Cardinality = ReturnType<typeof createCardinality>
