/**
 * bench:scale's many-projects case: one detector look (every project, every live release) on a
 * collector with BENCH_PROJECTS projects (default 100), each with production and staging and 3
 * live releases in each, over the last 3 hours of modest traffic. The store is seeded through
 * `store.events.insertRaw` (the spool's path: the materialised views feed the rollups as live),
 * from a seeded PRNG. The detector's timer is off; the bench times `detector.evaluate()`, and
 * counts the store's calls during the looks (its methods wrapped here, the product untouched).
 */
import { fingerprint } from '../../collector/src/grouping/fingerprint.js'
import { withStackColumn } from '../../collector/src/sourcemaps/regroupRows.js'
import { rowTsv } from '../../collector/src/spool/record.js'
import type { EventRow, Store } from '../../collector/src/store/index.js'
import { EVENTS, type Kind } from '../../collector/src/store/tables.js'
import { startCollector } from '../helpers/collector.js'
import { eventRow } from '../helpers/eventRow.js'
import { runSql } from '../helpers/storeQueries.js'
import { envInt } from './envInt.js'
import { makeRng, type Rng } from './rng.js'
import { f0, f1, H, n, quantile, S, type CaseContext } from './scaleCommon.js'

const PROJECTS = envInt('BENCH_PROJECTS', 100, 1, 1000)
/** Sessions per project over the 3 hours: 3/4 in production, 1/4 in staging. */
const SESSIONS = envInt('BENCH_SESSIONS', 2000, 10, 1_000_000)
const LOOKS = envInt('BENCH_LOOKS', 5, 1, 100)
/** Another look starts only while the looks so far and one more of their mean fit in this (one look at least). */
const LOOK_BUDGET_S = envInt('BENCH_LOOK_BUDGET_SECONDS', 150, 1, 3600)
const SEED = envInt('BENCH_SEED', 20261121, 0, 2 ** 31 - 1)
const ROWS_PER_INSERT = 20_000
const SPAN = 3 * H
const GOAL_MS = 1000

/** Each environment's 3 releases, appearing 3 h, 2 h and 1 h ago, all still used (newer ones more). */
const ENVS = [
  { env: 'production', share: 0.75, releases: ['3.4.0', '3.5.0', '3.5.1'] },
  { env: 'staging', share: 0.25, releases: ['3.6.0-rc.1', '3.6.0-rc.2', '3.6.0-rc.3'] },
]
const STARTS_AGO = [3 * H, 2 * H, 1 * H]
const WEIGHTS = [1, 2, 4]
const FLOWS = [
  { name: 'login', route: '/login', reason: '401 from /api/session' },
  { name: 'download', route: '/library/:id', reason: 'network error fetching /api/download' },
]
const FLOW_FAIL = 0.02
const VITALS = [
  { name: 'LCP', median: 2100, sigma: 0.5 },
  { name: 'CLS', median: 0.04, sigma: 1 },
  { name: 'INP', median: 160, sigma: 0.6 },
]
const CLIENT = { browser: 'Chrome', os: 'Windows', device: 'desktop', user_agent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0 Safari/537.36' }
const ORIGIN = 'https://app.example'

type Group = { name: string; message: string; stack: string; fingerprint: string }
/** 8 error groups with ~1 KB stacks, the same in every project and release. */
const makeGroups = (rng: Rng): Group[] =>
  ['TypeError', 'Error', 'RangeError', 'SyntaxError', 'TypeError', 'Error', 'ReferenceError', 'TypeError'].map((name, k) => {
    const message = `${name === 'TypeError' ? "Cannot read properties of undefined (reading 'items')" : 'Request failed'} (#${k})`
    const lines = [`${name}: ${message}`]
    for (let f = 0; lines.join('\n').length < 900 + rng.int(300); f++) lines.push(`    at f${(k * 7 + f) % 13} (${ORIGIN}/assets/app-7c1e.js:1:${1000 + ((k * 97 + f * 131) % 90000)})`)
    const stack = lines.join('\n')
    return { name, message, stack, fingerprint: fingerprint(name, message, stack, `${ORIGIN}/`) }
  })

/** One session: its start, 1–2 flows failing in 2%, vitals in half, an error in 5.5% (1.5% unhandled). */
const session = (p: { rng: Rng; groups: Group[]; project: string; env: string; release: string; t: number; out: EventRow[] }) => {
  const { rng, t, out } = p
  const id = rng.id()
  const batch = rng.id()
  const push = (kind: Kind, ts: number, f: Partial<EventRow>) =>
    out.push(eventRow({ project: p.project, env: p.env, release: p.release, kind, ts: Math.round(ts), received: Math.round(ts) + 500, session: id, batch, url: `${ORIGIN}/`, route: '/', ...CLIENT, ...f }))
  push('session', t, { outcome: 'start' })
  for (const f of FLOWS.slice(0, 1 + rng.int(2))) {
    const failed = rng.chance(FLOW_FAIL)
    push('flow', t + rng.uniform(S, 30 * S), { name: f.name, outcome: failed ? 'fail' : 'ok', reason: failed ? f.reason : '', value: rng.uniform(200, 3000), route: f.route })
  }
  if (rng.chance(0.5)) for (const v of VITALS) push('vital', t + rng.uniform(S, 10 * S), { name: v.name, value: rng.logNormal(v.median, v.sigma) })
  const r = rng.next()
  if (r < 0.055) {
    const g = p.groups[rng.int(p.groups.length)]!
    push('error', t + rng.uniform(2 * S, 60 * S), { name: g.name, message: g.message, stack: g.stack, fingerprint: g.fingerprint, handled: r < 0.015 ? 0 : 1 })
  }
}

/** Every project's sessions over the last 3 hours, in chunks of at most ROWS_PER_INSERT rows. */
function* traffic(ids: string[], now: number): Generator<EventRow[]> {
  const rng = makeRng(SEED, 'scale-projects')
  const groups = makeGroups(makeRng(SEED, 'groups'))
  let out: EventRow[] = []
  for (const project of ids) {
    for (const e of ENVS) {
      for (let i = 0; i < Math.round(SESSIONS * e.share); i++) {
        // Traffic ends a minute ago: every event is in the past, and every release is live.
        const t = now - SPAN + rng.next() * (SPAN - 60 * S)
        const live = STARTS_AGO.map((ago, k) => (now - ago <= t ? WEIGHTS[k]! : 0))
        let x = rng.next() * live.reduce((a, b) => a + b, 0)
        const k = live.findIndex((w) => (x -= w) < 0)
        session({ rng, groups, project, env: e.env, release: e.releases[k < 0 ? 0 : k]!, t, out })
      }
      if (out.length >= ROWS_PER_INSERT - 200) {
        yield out
        out = []
      }
    }
  }
  if (out.length) yield out
}

type Calls = Map<string, { calls: number; ms: number }>
/** Wraps each method of `obj` to count its calls and their time into `calls` under `prefix.name`. */
const countCalls = (obj: object, prefix: string, calls: Calls) => {
  const o = obj as Record<string, unknown>
  for (const [name, f] of Object.entries(o)) {
    if (typeof f !== 'function') continue
    o[name] = async (...args: unknown[]) => {
      const t = performance.now()
      try {
        return await (f as (...a: unknown[]) => Promise<unknown>)(...args)
      } finally {
        const c = calls.get(`${prefix}.${name}`) ?? { calls: 0, ms: 0 }
        calls.set(`${prefix}.${name}`, { calls: c.calls + 1, ms: c.ms + performance.now() - t })
      }
    }
  }
}

const seed = async (store: Store, ids: string[], progress: CaseContext['progress']) => {
  const t0 = performance.now()
  let events = 0
  let inserts = 0
  for (const chunk of traffic(ids, Date.now())) {
    await store.events.insertRaw(withStackColumn(`${chunk.map(rowTsv).join('\n')}\n`), `bench-scale-${SEED}-${inserts++}`)
    events += chunk.length
    if (inserts % 20 === 0) progress(`seeded ${n(events)} events`)
  }
  const stored = (await runSql<{ n: number }>(store, `SELECT count() AS n FROM ${EVENTS}`))[0]?.n ?? 0
  return { events, stored, inserts, seconds: (performance.now() - t0) / 1000 }
}

export const runProjects = async (ctx: CaseContext): Promise<string[]> => {
  ctx.progress(`starting the collector in ${ctx.dataDir}`)
  // The detector's own timer an hour away: the bench looks itself.
  const c = await startCollector({ dataDir: ctx.dataDir, rateLimit: 0, evalIntervalMs: 3_600_000 })
  ctx.defer(() => c.close())
  const { store, projects, detector, metrics } = c.app.vigil
  const ids = Array.from({ length: PROJECTS }, (_, i) => `p${String(i + 1).padStart(3, '0')}`)
  for (const id of ids) await projects.add(`Project ${id}`, { id })
  ctx.progress(`${PROJECTS} projects added; seeding ~${n(SESSIONS * PROJECTS)} sessions`)
  const seeded = await seed(store, ids, ctx.progress)
  ctx.progress(`seeded ${n(seeded.stored)} events in ${f0(seeded.seconds)} s`)

  const calls: Calls = new Map()
  countCalls(store.detector, 'detector', calls)
  countCalls(store.alerts, 'alerts', calls)
  countCalls(store.db, 'db', calls)
  const floor = await trivialQueryMs(store)
  const looks: number[] = []
  const spent = () => looks.reduce((a, b) => a + b, 0)
  for (let i = 0; i < LOOKS && (i === 0 || spent() + spent() / i <= LOOK_BUDGET_S * S); i++) {
    const t = performance.now()
    await detector.evaluate()
    looks.push(performance.now() - t)
    ctx.progress(`look ${i + 1}: ${f0(looks[i]!)} ms`)
  }
  const skipped = (await metrics.releasesSkipped.get()).values[0]?.value ?? 0
  const verdicts = new Map<string, number>()
  for (const p of ids)
    for (const e of ENVS)
      for (const r of e.releases) {
        const v = detector.verdict(p, e.env, r)?.verdict ?? 'not judged'
        verdicts.set(v, (verdicts.get(v) ?? 0) + 1)
      }
  return report({ seeded, looks, calls, verdicts, skipped, firing: detector.firing().length, floor })
}

/** What any query costs through the client and chDB: the median of 20 `SELECT 1`. */
const trivialQueryMs = async (store: Store) => {
  const ms: number[] = []
  for (let i = 0; i < 20; i++) {
    const t = performance.now()
    await store.db.rows('SELECT 1 AS one')
    ms.push(performance.now() - t)
  }
  return quantile(ms.sort((a, b) => a - b), 0.5)
}

type Outcome = { seeded: Awaited<ReturnType<typeof seed>>; looks: number[]; calls: Calls; verdicts: Map<string, number>; skipped: number; firing: number; floor: number }

const report = ({ seeded, looks, calls, verdicts, skipped, firing, floor }: Outcome): string[] => {
  const s = [...looks].sort((a, b) => a - b)
  const releases = PROJECTS * ENVS.length * 3
  const judged = releases - (verdicts.get('not judged') ?? 0)
  const per = (x: number) => x / looks.length
  const rows = [...calls.entries()].sort((a, b) => b[1].ms - a[1].ms)
  return [
    '',
    `Many projects: one detector look at ${PROJECTS} projects × ${ENVS.length} environments × 3 live releases (${n(releases)} releases) — embedded ClickHouse (chDB), in process`,
    '',
    `  store: ${n(seeded.stored)} events (${n(PROJECTS * SESSIONS)} sessions) over the last 3 h; releases appeared 3 h, 2 h, 1 h ago, all live;` +
      ` flows login/download failing in ${FLOW_FAIL * 100}%, vitals in half the sessions, errors in 5.5% (8 groups)`,
    `  seeded in ${f1(seeded.seconds)} s (${n(seeded.stored / seeded.seconds)} events/s, ${seeded.inserts} insertRaw of ≤ ${n(ROWS_PER_INSERT)} rows)`,
    '',
    `  detector look (detector.evaluate(), ${looks.length}×): min ${f0(s[0]!)} ms, median ${f0(quantile(s, 0.5))} ms, max ${f0(s[s.length - 1]!)} ms` +
      ` (each: ${looks.map(f0).join(', ')}${looks.length < LOOKS ? `; ${LOOKS} asked, stopped at the ${LOOK_BUDGET_S} s budget` : ''}) — goal: one look ≤ ${GOAL_MS} ms`,
    `  releases judged: ${n(judged)} of ${n(releases)} (verdicts: ${[...verdicts.entries()].map(([v, k]) => `${v} ${k}`).join(', ')}); skipped by the limits ${skipped}; alerts firing ${firing}`,
    `  per look: ${n(per(calls.get('db.rows')?.calls ?? 0))} queries, ${f0(per(calls.get('db.rows')?.ms ?? 0))} ms summed over them` +
      ` (chDB runs them one at a time: ${f1((calls.get('db.rows')?.ms ?? 0) / Math.max(1, calls.get('db.rows')?.calls ?? 0))} ms each, queueing included;` +
      ` a trivial query, SELECT 1, takes ${f1(floor)} ms)`,
    `  the store's calls per look (calls, ms summed; calls issued together overlap):`,
    ...rows.filter(([k]) => k !== 'db.rows').map(([k, v]) => `    ${k.padEnd(28)}${f0(per(v.calls)).padStart(7)}${f0(per(v.ms)).padStart(9)} ms`),
  ]
}
