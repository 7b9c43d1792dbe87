// `npm run bench:dashboard`: how long the health page's two reads take — `GET /v1/overview` (the
// releases view) and `GET /v1/releases/:release` (one release) — for each range the page offers
// (15m, 1h, 24h, 7d), on a store holding a week of one busy production environment. The page
// asks again after every detector look (every 5 s, from the live feed), once per open tab, so a
// read that takes seconds is a page that is always behind, and a collector whose embedded
// ClickHouse (chDB runs parameterised queries one at a time, process-wide) spends its time
// answering tabs instead of looking.
//
// This process is the collector (startCollector: embedded ClickHouse in a fresh temporary
// directory, real HTTP on 127.0.0.1, an ephemeral port). The store is seeded through
// `store.insertRaw` (the spool's TabSeparated path: the materialised views feed the rollups as
// they would live) with synthetic sessions from a seeded PRNG, timestamps over the 7 days (BENCH_DAYS) ending
// now: 6 releases rolling out one after another (each ramping up over 8 h, the one before
// lingering at a few per cent for a day), 3 flows (login, download, offline-playback) failing in
// 1–5% of sessions, errors from 36 groups with 1–2 KB stacks, web vitals; traffic follows a
// daily cycle at its busiest now. The detector's own timer is off (evalIntervalMs one hour); the
// bench calls `detector.evaluate()` itself: first timed on its own (after which every release has
// a verdict, as on a live page), then, for the last table only, in a loop every 5 s as the
// collector does while the pages are read. Each row gives two figures: what one answer costs
// to compute (the read model called directly, one at a time: what a page's first ask waits for,
// and what the collector spends after each look on each page a tab watches, snapshots.ts), and
// what a tab's GET takes (sequential fetch, one at a time, after warm-ups: back to back, as much
// reading as 10–40 tabs refreshing after each look; an answer computed since the last look is
// served as it is).
//
// It measures, it does not assert: it exits 0 after printing, whatever the figures.
// Environment: BENCH_EVENTS (events seeded, default 2,500,000), BENCH_DAYS (their history, default 7), BENCH_REQUESTS (measured requests
// per row, default 20), BENCH_WARMUP_REQUESTS (default 2), BENCH_LOOKS (timed detector looks,
// default 10), BENCH_ROW_SECONDS (a row stops early past this, default 60), BENCH_SEED.
import { gzipSync } from 'node:zlib'
import { MAX_RELEASES, RANGES, type Range } from '../../collector/src/releaseNumbers.js'
import { readOverview, readRelease, type ReadDeps } from '../../collector/src/readModels.js'
import { eventRow } from '../helpers/eventRow.js'
import { fingerprint } from '../../collector/src/grouping/fingerprint.js'
import { rowTsv } from '../../collector/src/spool/record.js'
import { withStackColumn } from '../../collector/src/sourcemaps/regroupRows.js'
import type { EventRow, Store } from '../../collector/src/store/index.js'
import type { Kind } from '../../collector/src/store/tables.js'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'
import { envInt } from './envInt.js'
import { runToEnd, watchdog } from './watchdog.js'
import { makeRng as rng, type Rng } from './rng.js'
import { countEvents, runSql } from '../helpers/storeQueries.js'

const TARGET_EVENTS = envInt('BENCH_EVENTS', 2_500_000, 10_000, 50_000_000)
const REQUESTS = envInt('BENCH_REQUESTS', 20, 1, 1000)
const WARMUP = envInt('BENCH_WARMUP_REQUESTS', 2, 0, 100)
const LOOKS = envInt('BENCH_LOOKS', 10, 1, 100)
/**
 * The first looks after the seeding are not a live collector's: each reads again what ClickHouse
 * stored in the seconds before the last (all 7 days of the store were stored in the last minute
 * or so), and the first loads its 12 hours. The steady figure is the median of the looks after these.
 */
const SETTLING_LOOKS = 5
const ROW_SECONDS = envInt('BENCH_ROW_SECONDS', 60, 5, 3600)
const SEED = envInt('BENCH_SEED', 20261121, 0, 2 ** 31 - 1)
const ROWS_PER_INSERT = 20_000
/** The collector's default look interval, for the last table. */
const LOOK_EVERY_MS = 5000
/** The whole run, hung or not; past it the bench cleans up and exits 1. */
const DEADLINE_MS = 15 * 60_000 + (TARGET_EVENTS / 1_000_000) * 40_000
/** Days of history (BENCH_DAYS, 7–28): a longer history at the same events per day shows what history costs. */
const HISTORY_DAYS = envInt('BENCH_DAYS', 7, 7, 28)

const S = 1000
const MIN = 60 * S
const H = 60 * MIN
const DAY = 24 * H
const PROJECT = 'default'
const ENV = 'production'
const RANGE_NAMES = Object.keys(RANGES) as Range[]

// ---------------------------------------------------------------------------------------------
// A seeded PRNG (mulberry32): the same data every run, apart from where "now" falls.

const makeRng = (name: string) => rng(SEED, name)

// ---------------------------------------------------------------------------------------------
// What one production environment sends over a week.

const RELEASES = ['4.12.0', '4.13.0', '4.13.1', '4.14.0', '4.15.0', '4.16.0']
/** When each release meets its first user, before now (the first was already live when the history starts). */
const STARTS_AGO = [HISTORY_DAYS * DAY, 142 * H, 114 * H, 86 * H, 50 * H, 3 * H]
/** A new release's share goes 0 → 100% over this... */
const RAMP = 8 * H
/** ...and the one before keeps this share of sessions (stale tabs, old app versions), fading to 0 over a day. */
const LINGER = 0.03

const FLOWS = [
  { name: 'login', route: '/login', reason: '401 from /api/session', fail: 0.02 },
  { name: 'download', route: '/library/:id', reason: 'network error fetching /api/download', fail: 0.015 },
  { name: 'offline-playback', route: '/player/:id', reason: 'media decode failed', fail: 0.04 },
]
const CLIENTS = [
  { browser: 'Chrome', os: 'Windows', device: 'desktop', user_agent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36' },
  { browser: 'Safari', os: 'iOS', device: 'mobile', user_agent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1' },
  { browser: 'Firefox', os: 'Linux', device: 'desktop', user_agent: 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0' },
  { browser: 'Chrome', os: 'Android', device: 'mobile', user_agent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36' },
]
const VITALS = [
  { name: 'LCP', median: 2100, sigma: 0.5 },
  { name: 'FCP', median: 1300, sigma: 0.5 },
  { name: 'TTFB', median: 450, sigma: 0.6 },
  { name: 'CLS', median: 0.04, sigma: 1 },
  { name: 'INP', median: 160, sigma: 0.6 },
]
/** Share of sessions that report vitals (the second file loads after the page has), and of those that report INP (they interacted). */
const VITALS_SHARE = 0.7
const INP_SHARE = 0.5
const CRASH_SHARE = 0.015
const HANDLED_SHARE = 0.04

/** Error groups: a long tail, the first 24 in every release, then 2 new ones per release. */
const GROUPS = 36
const ERROR_TYPES = [
  ['TypeError', "Cannot read properties of undefined (reading 'map')"],
  ['TypeError', 'Failed to fetch'],
  ['ReferenceError', 'player is not defined'],
  ['RangeError', 'Maximum call stack size exceeded'],
  ['Error', 'Request failed with status code 503'],
  ['TypeError', "undefined is not an object (evaluating 'e.items.length')"],
  ['Error', 'QuotaExceededError: the quota has been exceeded'],
  ['SyntaxError', 'Unexpected token < in JSON at position 0'],
  ['Error', 'ChunkLoadError: Loading chunk 742 failed'],
] as const
const FUNCTIONS = ['renderLibrary', 'useDownloads', 'commitRoot', 'performWork', 'flushSync', 'dispatchEvent', 'fetchJson', 'openStore', 'decodeSegment', 'onMessage', 'scheduleUpdate', 'Array.map']
type Group = { type: string; message: string; stack: string; fingerprint: string; handled: 0 | 1; from: number; weight: number }
const makeGroups = (rng: Rng, origin: string): Group[] =>
  Array.from({ length: GROUPS }, (_, k) => {
    const [type, message] = ERROR_TYPES[k % ERROR_TYPES.length]!
    const msg = `${message}${k >= ERROR_TYPES.length ? ` (#${k})` : ''}`
    // 1–2 KB: a minified bundle's frames, then the framework's.
    const lines = [`${type}: ${msg}`]
    const target = 1024 + rng.int(1024)
    for (let f = 0; lines.join('\n').length < target; f++) {
      const fn = FUNCTIONS[(k + f * 7) % FUNCTIONS.length]!
      const file = f < 4 ? `assets/app-${(k * 2654435761 >>> 0).toString(16).slice(0, 8)}.js` : `assets/vendor-react-9f3c1a2b.js`
      lines.push(`    at ${fn} (${origin}/${file}:1:${1000 + ((k * 97 + f * 131) % 90000)})`)
    }
    const stack = lines.join('\n')
    return {
      type,
      message: msg,
      stack,
      fingerprint: fingerprint(type, msg, stack, `${origin}/`),
      handled: k % 3 === 1 ? 1 : 0,
      from: k < 24 ? 0 : (k - 24) % RELEASES.length,
      weight: 1 / (1 + (k % 24)),
    }
  })

/**
 * The sessions of the week, in order of time, in rows of at most ROWS_PER_INSERT (a session's
 * events stay in one chunk). Events after `now` (sessions still going) are not sent yet.
 */
function* week(now: number, sessionsPerSecond: number): Generator<EventRow[]> {
  const rng = makeRng('week')
  const origin = 'https://app.example'
  const groups = makeGroups(makeRng('groups'), origin)
  const starts = STARTS_AGO.map((ago) => now - ago)
  const w0 = starts[0]!
  /** Which release a session starting at t runs: the newest live one, or (during its ramp and the linger) the one before. */
  const releaseAt = (t: number) => {
    let j = 0
    while (j + 1 < starts.length && starts[j + 1]! <= t) j++
    if (j === 0) return 0
    const age = t - starts[j]!
    const share = age < RAMP ? age / RAMP : 1 - LINGER * Math.max(0, 1 - (age - RAMP) / DAY)
    return rng.chance(share) ? j : j - 1
  }
  let out: EventRow[] = []
  for (let from = w0; from < now; from += 10 * S) {
    // Daily cycle, ×0.4 to ×1.6, at its busiest now (the page is read most in the day, after a
    // deploy): the figures do not depend on the hour the bench runs.
    const rate = sessionsPerSecond * (1 + 0.6 * Math.cos((2 * Math.PI * (from - now)) / DAY))
    const n = rng.poisson(rate * 10)
    const times = Array.from({ length: n }, () => from + rng.next() * 10 * S).sort((a, b) => a - b)
    for (const t of times) {
      const r = releaseAt(t)
      session(rng, groups, RELEASES[r]!, r, t, now, origin, out)
    }
    if (out.length >= ROWS_PER_INSERT - 64) {
      yield out
      out = []
    }
  }
  if (out.length > 0) yield out
}

const session = (rng: Rng, groups: Group[], release: string, r: number, t: number, now: number, origin: string, out: EventRow[]) => {
  const id = rng.id()
  const batch = rng.id()
  const client = CLIENTS[rng.int(CLIENTS.length)]!
  const push = (kind: Kind, ts: number, f: Partial<EventRow>) => {
    const at = Math.round(ts)
    if (at > now) return
    out.push(eventRow({ project: PROJECT, env: ENV, release, kind, ts: at, received: at + 200 + rng.int(1300), session: id, batch, url: `${origin}/`, route: '/', ...client, ...f }))
  }
  push('session', t, { outcome: 'start' })
  // 1–3 of the flows, in a random order.
  const k = 1 + rng.int(3)
  const order = [0, 1, 2].sort(() => rng.next() - 0.5).slice(0, k)
  let ts = t
  for (const i of order) {
    const f = FLOWS[i]!
    const url = `${origin}${f.route.replace(':id', String(rng.int(5000)))}`
    ts += rng.uniform(1 * S, 40 * S)
    if (rng.chance(f.fail)) {
      push('flow', ts, { name: f.name, outcome: rng.chance(0.8) ? 'fail' : 'timeout', reason: f.reason, value: rng.uniform(300, 15000), url, route: f.route })
      // Half of them try again and get through.
      if (rng.chance(0.5)) push('flow', (ts += rng.uniform(3 * S, 20 * S)), { name: f.name, outcome: 'ok', value: rng.uniform(200, 3000), url, route: f.route })
    } else push('flow', ts, { name: f.name, outcome: 'ok', value: rng.uniform(200, 3000), url, route: f.route })
  }
  if (rng.chance(VITALS_SHARE)) {
    for (const v of VITALS) {
      if (v.name === 'INP' && !rng.chance(INP_SHARE)) continue
      push('vital', t + rng.uniform(1 * S, 10 * S), { name: v.name, value: rng.logNormal(v.median, v.sigma) })
    }
  }
  const error = (handled: 0 | 1) => {
    const live = groups.filter((g) => g.from <= r && g.handled === handled)
    let x = rng.next() * live.reduce((s, g) => s + g.weight, 0)
    const g = live.find((c) => (x -= c.weight) < 0) ?? live[live.length - 1]!
    const times = 1 + rng.int(3)
    for (let i = 0; i < times; i++)
      push('error', t + rng.uniform(2 * S, 240 * S), { name: g.type, message: g.message, stack: g.stack, handled, fingerprint: g.fingerprint, url: `${origin}/library` })
  }
  if (rng.chance(CRASH_SHARE)) error(0)
  if (rng.chance(HANDLED_SHARE)) error(1)
}

/** Events per session, on average, from a sample of the generator's own sessions. */
const meanEventsPerSession = () => {
  const rng = makeRng('sample')
  const groups = makeGroups(makeRng('groups'), 'https://app.example')
  const out: EventRow[] = []
  const n = 20_000
  for (let i = 0; i < n; i++) session(rng, groups, RELEASES[5]!, 5, 0, Infinity, 'https://app.example', out)
  return out.length / n
}

// ---------------------------------------------------------------------------------------------

const started = Date.now()
const elapsed = () => (Date.now() - started) / 1000
const progress = (s: string) => process.stderr.write(`bench:dashboard: [${elapsed().toFixed(0).padStart(3)} s] ${s}\n`)
const dir = tempDir('vigil-bench-dashboard-')
let collector: Running | undefined
let looking = false
let lookLoop: Promise<void> | undefined

const cleanup = async () => {
  looking = false
  await lookLoop?.catch(() => undefined)
  await collector?.close().catch(() => undefined)
  dir.remove()
}
const deadline = watchdog('bench:dashboard', DEADLINE_MS, cleanup, dir.path)

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN
const median = (xs: number[]) => quantile([...xs].sort((a, b) => a - b), 0.5)

type Row = { route: string; range: Range; computed: number[]; ms: number[]; bytes: number; gzip: number; note: string; error?: string }

/**
 * A row: first what one answer costs — the read model called directly, N times after warm-ups, as
 * the read API calls it for a page's first ask and again after each look while a tab watches the
 * page (snapshots.ts); then N sequential GETs after warm-ups, as tabs get them (kept answers,
 * computed again after each look). At most ROW_SECONDS of each.
 */
const measure = async (base: string, route: { route: string; path: string; describe: (body: unknown) => string; compute: (range: Range) => Promise<unknown> }, range: Range): Promise<Row> => {
  const { path, describe } = route
  const url = `${base}${path}${path.includes('?') ? '&' : '?'}range=${range}`
  const row: Row = { route: route.route, range, computed: [], ms: [], bytes: 0, gzip: 0, note: '' }
  const t1 = performance.now()
  for (let i = 0; i < WARMUP + REQUESTS; i++) {
    if (i > WARMUP && performance.now() - t1 > ROW_SECONDS * 1000) break
    const t = performance.now()
    await route.compute(range)
    if (i >= WARMUP) row.computed.push(performance.now() - t)
  }
  const t0 = performance.now()
  for (let i = 0; i < WARMUP + REQUESTS; i++) {
    if (i > WARMUP && performance.now() - t0 > ROW_SECONDS * 1000) break
    const t = performance.now()
    const res = await fetch(url)
    const body = Buffer.from(await res.arrayBuffer())
    const ms = performance.now() - t
    if (res.status !== 200) {
      row.error = `${res.status} ${body.toString('utf8').slice(0, 200)}`
      break
    }
    if (i >= WARMUP) row.ms.push(ms)
    if (i === WARMUP + REQUESTS - 1 || row.bytes === 0) {
      row.bytes = body.length
      row.gzip = gzipSync(body).length
      row.note = describe(JSON.parse(body.toString('utf8')))
    }
  }
  return row
}

/** Each store call the two routes make, timed on its own (median of `times`), with the arguments the routes would pass. */
const storeCalls = async (store: Store, range: Range, release: string, times: number) => {
  const to = Date.now()
  const from = to - RANGES[range].ms
  const stepS = RANGES[range].stepS
  const summaries = await store.pages.releaseSpans(PROJECT, ENV, from)
  const health = await store.pages.releaseSessions(PROJECT, ENV, from, to)
  const active = summaries.filter((s) => health.some((h) => h.release === s.release))
  const targets = active.slice(0, MAX_RELEASES).map((s) => ({ release: s.release, arrived: s.arrived, since: Math.max(from, s.firstSeen) }))
  const mine = summaries.find((s) => s.release === release)
  const first = mine?.firstSeen ?? from
  const older = mine ? active.filter((x) => x.arrived < mine.arrived).map((x) => x.release) : []
  const one = targets.filter((t) => t.release === release)
  const calls: [string, () => Promise<unknown>][] = [
    ['environments', () => store.pages.environments(PROJECT)],
    ['releaseSpans', () => store.pages.releaseSpans(PROJECT, ENV, from)],
    ['releaseSessions', () => store.pages.releaseSessions(PROJECT, ENV, from, to)],
    ['flowsAndVitals', () => store.pages.flowsAndVitals(PROJECT, ENV, from, to)],
    ['flowsAndVitals (one release)', () => store.pages.flowsAndVitals(PROJECT, ENV, from, to, release)],
    ['flowBaselines (all listed)', () => store.pages.flowBaselines(PROJECT, ENV, targets, active, to)],
    ['flowBaselines (one release)', () => store.pages.flowBaselines(PROJECT, ENV, one, active, to)],
    ['releaseErrorGroups', () => store.pages.releaseErrorGroups(PROJECT, ENV, release, from, to, 100)],
    ['flowSeries (one release)', () => store.pages.flowSeries(PROJECT, ENV, release, older, Math.max(from, first - 5 * stepS * 1000), to, stepS)],
    ['alerts', () => store.alerts.alerts(PROJECT)],
    // What a look reads, whatever the page's range: its releases; the sessions ClickHouse stored
    // since the last look (none here: the store is quiet), or all of its 12-hour horizon (its
    // first look after a start); vitals over its 6-hour window as read where its kept sessions do
    // not cover a window (they count it in memory otherwise).
    ['look: projectReleases', () => store.detector.projectReleases([PROJECT], to - 6 * H)],
    ['look: storedSessions (new)', () => store.detector.storedSessions([PROJECT], to - 12 * H, to - 15 * S)],
    ['look: storedSessions (first)', () => store.detector.storedSessions([PROJECT], to - 12 * H)],
    ['look: windowVitals (6 h, read)', () => store.detector.windowVitals([{ project: PROJECT, from: to - 6 * H, to }])],
  ]
  const out: { call: string; ms: number }[] = []
  for (const [call, f] of calls) {
    const ms: number[] = []
    for (let i = 0; i < times; i++) {
      const t = performance.now()
      await f()
      ms.push(performance.now() - t)
    }
    out.push({ call, ms: median(ms) })
  }
  return out
}

const main = async () => {
  const mean = meanEventsPerSession()
  const sessionsPerSecond = TARGET_EVENTS / mean / ((HISTORY_DAYS * DAY) / S)
  progress(`starting the collector in ${dir.path}`)
  // The detector's own timer is an hour away: the bench looks itself, when it says so.
  collector = await startCollector({ dataDir: dir.path, rateLimit: 0, evalIntervalMs: 3_600_000 })
  const c = collector
  const store = c.app.vigil.store
  const detector = c.app.vigil.detector

  // 1. Seed: generate in time order, insert in chunks through the spool's path.
  const now = Date.now()
  progress(`seeding ~${TARGET_EVENTS.toLocaleString('en-US')} events (${mean.toFixed(2)} per session, ${sessionsPerSecond.toFixed(2)} sessions/s on average)`)
  let events = 0
  let inserts = 0
  let insertMs = 0
  let textBytes = 0
  const tSeed = performance.now()
  let nextNote = 0.1
  for (const chunk of week(now, sessionsPerSecond)) {
    const text = `${chunk.map(rowTsv).join('\n')}\n`
    textBytes += text.length
    const t = performance.now()
    await store.events.insertRaw(withStackColumn(text), `bench-dashboard-${SEED}-${inserts}`)
    insertMs += performance.now() - t
    inserts++
    events += chunk.length
    if (events >= nextNote * TARGET_EVENTS) {
      progress(`seeded ${events.toLocaleString('en-US')} events in ${((performance.now() - tSeed) / 1000).toFixed(0)} s`)
      nextNote += 0.1
    }
  }
  const seedS = (performance.now() - tSeed) / 1000
  const stored = await countEvents(store, PROJECT)
  const sessions = (await runSql<{ n: number }>(store, `SELECT uniqExact(session) AS n FROM session_health`))[0]?.n ?? 0
  const parts = await runSql<{ table: string; parts: number; rows: number; bytes: number }>(
    store,
    `SELECT table, count() AS parts, sum(rows) AS rows, sum(bytes_on_disk) AS bytes FROM system.parts
    WHERE database = currentDatabase() AND active GROUP BY table ORDER BY table`,
  )
  progress(`seeded ${stored.toLocaleString('en-US')} events in ${seedS.toFixed(0)} s; ${parts.map((p) => `${p.table} ${p.parts} parts`).join(', ')}`)

  // 2. The detector's look, as the page follows it.
  const looks: number[] = []
  for (let i = 0; i < LOOKS; i++) {
    const t = performance.now()
    await detector.evaluate()
    looks.push(performance.now() - t)
  }
  const verdicts = RELEASES.map((r) => `${r} ${detector.verdict(PROJECT, ENV, r)?.verdict ?? '—'}`)
  progress(`detector looks: ${looks.map((x) => x.toFixed(0)).join(', ')} ms; ${verdicts.join(', ')}`)

  // 3. The two routes, each range, the detector quiet.
  const newest = RELEASES[RELEASES.length - 1]!
  const previous = RELEASES[RELEASES.length - 2]!
  const deps: ReadDeps = {
    store: store.pages,
    detector,
    projects: c.app.vigil.projects,
    symbolicate: c.app.vigil.symbolicate,
  }
  const routes = [
    {
      route: 'GET /v1/overview',
      path: '/v1/overview',
      compute: (range: Range) => readOverview(deps, { project: PROJECT, range }),
      describe: (b: unknown) => {
        const o = b as { releases: unknown[]; firing: unknown[] }
        return `${o.releases.length} releases, ${o.firing.length} firing`
      },
    },
    ...[
      [newest, 'newest, rolling out'],
      [previous, 'previous'],
    ].map(([release, what]) => ({
      route: `GET /v1/releases/${release} (${what})`,
      path: `/v1/releases/${release}`,
      compute: (range: Range) => readRelease(deps, { project: PROJECT, release: release!, range }),
      describe: (b: unknown) => {
        const o = b as { error_groups: unknown[]; series: { t: unknown[] }[]; sessions: number }
        return `${o.sessions.toLocaleString('en-US')} sessions, ${o.error_groups.length} error groups, ${o.series.length}×${o.series[0]?.t.length ?? 0} steps`
      },
    })),
  ]
  const quiet: Row[] = []
  for (const range of RANGE_NAMES)
    for (const r of routes) {
      const row = await measure(c.url, r, range)
      quiet.push(row)
      progress(`${r.route} ${range}: computed p50 ${median(row.computed).toFixed(0)} ms, served p50 ${median(row.ms).toFixed(0)} ms${row.error ? `, ${row.error}` : ''}`)
    }

  // 4. Where the time goes: the store calls behind the routes, one at a time.
  const calls: { range: Range; calls: { call: string; ms: number }[] }[] = []
  for (const range of RANGE_NAMES) calls.push({ range, calls: await storeCalls(store, range, newest, 3) })
  progress('store calls timed')

  // 5. The same reads while the detector looks every 5 s, as on a live collector.
  const lookMs: number[] = []
  looking = true
  lookLoop = (async () => {
    while (looking) {
      const t = performance.now()
      await detector.evaluate()
      lookMs.push(performance.now() - t)
      const until = performance.now() + LOOK_EVERY_MS
      while (looking && performance.now() < until) await new Promise((r) => setTimeout(r, 100))
    }
  })()
  const busy: Row[] = []
  for (const range of RANGE_NAMES)
    for (const r of routes.slice(0, 2)) {
      const row = await measure(c.url, r, range)
      busy.push(row)
      progress(`${r.route} ${range} (detector looking): computed p50 ${median(row.computed).toFixed(0)} ms, served p50 ${median(row.ms).toFixed(0)} ms${row.error ? `, ${row.error}` : ''}`)
    }
  looking = false
  await lookLoop

  // Report.
  const n = (x: number) => Math.round(x).toLocaleString('en-US')
  const kb = (b: number) => (b / 1024).toFixed(1)
  const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '—')
  const table = (rows: Row[]) => {
    const lines = [
      `  ${''.padEnd(48)}${''.padEnd(7)}${''.padStart(4)}${'computed (one answer)'.padStart(27)}${'served (GET)'.padStart(18)}`,
      `  ${'route'.padEnd(48)}${'range'.padEnd(7)}${'n'.padStart(4)}${'p50 ms'.padStart(9)}${'p95 ms'.padStart(9)}${'max ms'.padStart(9)}${'p50 ms'.padStart(9)}${'p95 ms'.padStart(9)}${'KB'.padStart(8)}${'KB gzip'.padStart(9)}  response`,
    ]
    for (const r of rows) {
      const s = [...r.ms].sort((a, b) => a - b)
      const c = [...r.computed].sort((a, b) => a - b)
      lines.push(
        `  ${r.route.padEnd(48)}${r.range.padEnd(7)}${String(s.length).padStart(4)}${f0(quantile(c, 0.5)).padStart(9)}${f0(quantile(c, 0.95)).padStart(9)}${f0(c[c.length - 1] ?? NaN).padStart(9)}` +
          `${f0(quantile(s, 0.5)).padStart(9)}${f0(quantile(s, 0.95)).padStart(9)}` +
          `${kb(r.bytes).padStart(8)}${kb(r.gzip).padStart(9)}  ${r.error ? `ERROR ${r.error}` : r.note}`,
      )
    }
    return lines
  }
  const sortedLooks = [...looks].sort((a, b) => a - b)
  const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`
  const out = [
    '',
    `Vigil dashboard read benchmark — embedded ClickHouse (chDB), real HTTP on 127.0.0.1; per row ${WARMUP} warm-ups then ${REQUESTS} answers computed, then as many GETs`,
    '',
    `  store: ${n(stored)} events (${n(sessions)} sessions) over the ${HISTORY_DAYS} days ending now, one project, env ${ENV}; releases ${RELEASES.join(', ')}`,
    `         starting ${STARTS_AGO.map((a) => `${Math.round(a / H)} h`).join(', ')} ago, each ramping over ${RAMP / H} h, the one before lingering at ${LINGER * 100}% for a day`,
    `  seeded in ${seedS.toFixed(1)} s (${n(stored / seedS)} events/s; ${inserts} insertRaw of ≤ ${n(ROWS_PER_INSERT)} rows, ${(insertMs / 1000).toFixed(1)} s in ClickHouse,` +
      ` ${mb(textBytes)} of TabSeparated)`,
    `  on disk: ${parts.map((p) => `${p.table} ${n(p.rows)} rows ${p.parts} parts ${mb(p.bytes)}`).join('; ')}`,
    '',
    `  detector look (detector.evaluate(), ${LOOKS}×): median after the first ${SETTLING_LOOKS} ${looks.length > SETTLING_LOOKS ? f0(median(looks.slice(SETTLING_LOOKS))) : '—'} ms; min ${f0(sortedLooks[0]!)} ms, max ${f0(sortedLooks[sortedLooks.length - 1]!)} ms` +
      ` (each: ${looks.map(f0).join(', ')}); verdicts ${verdicts.join(', ')}`,
    '',
    'The detector quiet (its timer an hour away; every release already has a verdict from the looks above):',
    ...table(quiet),
    '',
    `While the detector looks every ${LOOK_EVERY_MS / S} s (a loop calling evaluate(), as the collector's timer does; ${lookMs.length} looks during these rows,` +
      ` median ${f0(median(lookMs))} ms):`,
    ...table(busy),
    '',
    `The store calls behind the routes, each alone (median of 3, ms; the newest release for the one-release calls):`,
    `  ${'call'.padEnd(30)}${RANGE_NAMES.map((r) => r.padStart(9)).join('')}`,
    ...calls[0]!.calls.map((_, i) => `  ${calls[0]!.calls[i]!.call.padEnd(30)}${calls.map((r) => f0(r.calls[i]!.ms).padStart(9)).join('')}`),
    '  /v1/overview = environments, then releaseSpans + releaseSessions + flowsAndVitals + alerts, then flowBaselines (all listed).',
    '  /v1/releases/:r = environments, then releaseSpans + releaseSessions + flowsAndVitals (one) + releaseErrorGroups + alerts, then flowBaselines (one), then flowSeries.',
    '  chDB runs parameterised queries one at a time (one process-wide chain), so calls issued together add up rather than overlap.',
    '',
    `  total time ${elapsed().toFixed(0)} s`,
    '',
  ]
  console.log(out.join('\n'))
}

await runToEnd('bench:dashboard', main, { cleanup, dir, deadline })
