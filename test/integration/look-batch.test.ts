/**
 * A look reads every window of every release of every project in one query per rollup
 * (detector/loader.ts). Windows of two projects, over different spans, read together give what
 * each gives read alone, and what the events themselves give; a release whose LCP regressed is
 * judged on those reads and alerted on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EventRow, Window } from '../../collector/src/store/index.js'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'
import { eventRow } from '../helpers/eventRow.js'
import { insertEvents, runSql, windowOf } from '../helpers/storeQueries.js'
import { sessionMemory, type SessionMemory } from '../../collector/src/detector/sessions.js'
import { VITALS_PER_SESSION } from '../../collector/src/store/rollupViews.js'

const MIN = 60_000
const HOUR = 3600_000
const now = Date.now()

/** `n` sessions of a release over [start, now): a login failing every `failEvery`, an unhandled error every 7th, an LCP of `lcp(i)`. */
const sessions = (project: string, release: string, n: number, start: number, failEvery: number, lcp: (i: number) => number): EventRow[] =>
  Array.from({ length: n }, (_, i) => {
    const at = start + Math.floor(((now - MIN - start) * i) / n)
    const s = `${project}-${release}-${i}`
    // A third of the sessions come from a few shared networks (weighed per network), the rest from none.
    const row = (r: Partial<EventRow> & Pick<EventRow, 'kind'>) => eventRow({ project, release, session: s, ts: at, net: i % 3 === 0 ? `net-${i % 4}` : '', ...r })
    return [
      row({ kind: 'session', outcome: 'start' }),
      row({ kind: 'flow', name: 'login', ts: at + 500, ...(i % failEvery === 0 ? { outcome: 'fail', reason: '500' } : { outcome: 'ok' }) }),
      ...(i % 7 === 0 ? [row({ kind: 'error', name: 'TypeError', fingerprint: `fp-${i % 3}`, handled: 0, ts: at + 700, message: 'x is undefined' })] : []),
      row({ kind: 'vital', name: 'LCP', value: lcp(i), ts: at + 900 }),
    ]
  }).flat()

/** Rows in a set order, their fractions (weighed sums, added in any order) to 9 places. */
const sorted = <T>(xs: T[]) =>
  xs
    .map((x) => Object.fromEntries(Object.entries(x as object).map(([k, v]) => [k, typeof v === 'number' ? Number(v.toFixed(9)) : v])))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))

describe('a look’s batched reads', () => {
  const dir = tempDir()
  let c: Running
  beforeAll(async () => {
    c = await startCollector({ dataDir: dir.path, evalIntervalMs: 3_600_000 })
    await insertEvents(c.app.vigil.store, [
      ...sessions('default', '1.0.0', 400, now - 5 * HOUR, 20, (i) => 1000 + (i % 50) * 20),
      ...sessions('default', '1.1.0', 400, now - 2 * HOUR, 20, (i) => 2000 + (i % 50) * 40),
      ...sessions('other', '7.0.0', 300, now - 4 * HOUR, 5, (i) => 1500 + (i % 30) * 10),
    ])
  })
  afterAll(async () => {
    await c?.close()
    dir.remove()
  })

  const windows: Window[] = ['default', 'other'].flatMap((project) => [
    { project, from: now - 3 * HOUR - 1234, to: now },
    { project, from: now - HOUR, to: now },
    { project, from: now - 5 * HOUR, to: now - 2 * HOUR + 777 },
  ])

  it('give each window what it gives read alone', async () => {
    const d = c.app.vigil.store.detector
    const [crashes, flows, groups, vitals] = await Promise.all([d.windowCrashes(windows), d.windowFlows(windows), d.windowErrorGroups(windows), d.windowVitals(windows)])
    for (const [i, w] of windows.entries()) {
      const one = windowOf(d, w.project, w.from, w.to)
      const alone = await Promise.all([one.crashes(), one.flows(), d.errorGroups(w.project, 'production', w.from, w.to), one.vitals()])
      expect(crashes[i]!.length, `${w.project} ${i}`).toBeGreaterThan(0)
      expect([sorted(crashes[i]!), sorted(flows[i]!), sorted(groups[i]!), sorted(vitals[i]!)]).toEqual([sorted(alone[0]), sorted(alone[1]), sorted(alone[2]), sorted(alone[3])])
      // Error groups come the most sessions first.
      expect(groups[i]!.map((g) => g.fingerprint)).toEqual(alone[2].map((g) => g.fingerprint))
    }
  })

  const question = (w: Window) => ({ ...w, env: 'production', release: w.project === 'other' ? '7.0.0' : '1.0.0', name: 'LCP', threshold: 1400 })
  const questions = windows.map(question)

  /** The memory, refreshed at `at`, counts each window as ClickHouse does. */
  const same = async (memory: SessionMemory, at: number, ws: Window[]) => {
    const d = c.app.vigil.store.detector
    await memory.refresh(['default', 'other'], at, () => 0)
    const qs = ws.map(question)
    const [crashes, flows, groups, vitals, above] = await Promise.all([d.windowCrashes(ws), d.windowFlows(ws), d.windowErrorGroups(ws), d.windowVitals(ws), d.vitalsAbove(qs)])
    for (const [i, w] of ws.entries()) {
      expect(memory.covers(w)).toBe(true)
      expect(sorted(memory.crashes(w)), `${i}`).toEqual(sorted(crashes[i]!))
      expect(sorted(memory.flows(w)), `${i}`).toEqual(sorted(flows[i]!))
      expect(vitals[i]!.length, `${i}`).toBeGreaterThan(0)
      expect(sorted(memory.vitals(w)), `${i}`).toEqual(sorted(vitals[i]!))
      expect(above[i]!.above, `${i}`).toBeGreaterThan(0)
      expect(sorted([memory.above(qs[i]!)]), `${i}`).toEqual(sorted([above[i]!]))
      const plain = groups[i]!.map(({ stackFingerprints: _, seenIn: __, firstSeen: ___, firstRelease: ____, ...g }) => g)
      expect(sorted(memory.groups(w)), `${i}`).toEqual(sorted(plain))
      expect(memory.groups(w).map((g) => g.fingerprint)).toEqual(plain.map((g) => g.fingerprint))
    }
  }

  it('give the release page the error groups the detector reads, without their weighing', async () => {
    const { detector: d, pages } = c.app.vigil.store
    for (const w of windows)
      for (const release of w.project === 'other' ? ['7.0.0'] : ['1.0.0', '1.1.0']) {
        const judged = await d.errorGroups(w.project, 'production', w.from, w.to, { release, limit: 100 })
        const page = await pages.releaseErrorGroups(w.project, 'production', release, w.from, w.to, 100)
        expect(page.length, `${w.project} ${release}`).toBeGreaterThan(0)
        expect(page).toEqual(judged.map(({ judgedSessions: _, networks: __, topFailed: ___, topSessions: ____, ...g }) => g))
        expect(await pages.releaseErrorGroups(w.project, 'production', release, w.from, w.to, 1)).toEqual(page.slice(0, 1))
      }
  })

  it('count what the events count', async () => {
    const d = c.app.vigil.store.detector
    const [crashes, flows, above] = await Promise.all([d.windowCrashes(windows), d.windowFlows(windows), d.vitalsAbove(questions)])
    for (const [i, q] of questions.entries()) {
      const [raw] = await runSql<{ sessions: number; crashed: number; login: number; failed: number; lcp: number; slow: number }>(
        c.app.vigil.store,
        `SELECT uniqExact(session) AS sessions, uniqExactIf(session, kind = 'error' AND handled = 0) AS crashed,
          uniqExactIf(session, kind = 'flow') AS login, uniqExactIf(session, kind = 'flow' AND outcome != 'ok') AS failed,
          countIf(kind = 'vital') AS lcp, countIf(kind = 'vital' AND value > 1400) AS slow
        FROM events WHERE project = '${q.project}' AND release = '${q.release}'
          AND ts BETWEEN fromUnixTimestamp64Milli(${q.from}, 'UTC') AND fromUnixTimestamp64Milli(${q.to}, 'UTC')`,
      )
      expect(crashes[i]!.find((x) => x.release === q.release), `${i}`).toMatchObject({ sessions: raw!.sessions, crashed: raw!.crashed })
      expect(flows[i]!.find((x) => x.release === q.release), `${i}`).toMatchObject({ sessions: raw!.login, failed: raw!.failed })
      expect(above[i], `${i}`).toMatchObject({ samples: raw!.lcp, above: raw!.slow })
    }
  })

  it('count in memory what ClickHouse counts, after the first load and after what arrives later', async () => {
    const d = c.app.vigil.store.detector
    const memory = sessionMemory({ store: d, horizonMs: 12 * HOUR, minFailingNetworks: d.minFailingNetworks })
    await same(memory, now, windows)
    // Later: more sessions, and more of sessions already kept (a retried login failing again, a
    // crash, a second page's LCP from another network).
    const later = [
      ...sessions('default', '1.1.0', 50, now - 20 * MIN, 2, () => 3000).map((r) => ({ ...r, session: `late-${r.session}` })),
      ...Array.from({ length: 30 }, (_, i) => eventRow({ project: 'default', release: '1.0.0', session: `default-1.0.0-${i * 7}`, ts: now - 2 * MIN, kind: 'flow', name: 'login', outcome: 'fail', net: 'net-9' })),
      ...Array.from({ length: 10 }, (_, i) => eventRow({ project: 'other', release: '7.0.0', session: `other-7.0.0-${i}`, ts: now - 3 * MIN, kind: 'error', name: 'RangeError', fingerprint: 'fp-late', handled: 0 })),
      ...Array.from({ length: 20 }, (_, i) => eventRow({ project: 'default', release: '1.0.0', session: `default-1.0.0-${i * 5}`, ts: now - 4 * MIN, kind: 'vital', name: 'LCP', value: 1300 + i * 20, net: 'net-8' })),
    ]
    await insertEvents(c.app.vigil.store, later)
    await same(memory, now, windows)
    // A shorter horizon: the sessions inactive for it are let go (those kept numbered anew, twice),
    // and the windows it covers counted as before.
    const short = sessionMemory({ store: d, horizonMs: 2 * HOUR, minFailingNetworks: d.minFailingNetworks })
    const recent = [windows[1]!, windows[4]!, ...['default', 'other'].map((project) => ({ project, from: now - 110 * MIN, to: now - 30 * MIN }))]
    await same(short, now, recent)
    await same(short, now + 2 * MIN, recent)
  })

  it('keep no project past its rows: a busy one is read from ClickHouse', async () => {
    const d = c.app.vigil.store.detector
    // `default` says it has too many sessions to load at all; `other` says few, but its 300
    // sessions bring some 640 rows: it is let go once loaded.
    const memory = sessionMemory({ store: d, horizonMs: 12 * HOUR, minFailingNetworks: d.minFailingNetworks, maxRows: 500 })
    await memory.refresh(['default', 'other'], now, (p) => (p === 'default' ? 10_000 : 100))
    expect(memory.covers({ project: 'default', from: now - HOUR, to: now })).toBe(false)
    expect(memory.covers({ project: 'other', from: now - HOUR, to: now })).toBe(false)
    const roomy = sessionMemory({ store: d, horizonMs: 12 * HOUR, minFailingNetworks: d.minFailingNetworks, maxRows: 5_000 })
    await roomy.refresh(['other'], now, () => 300)
    expect(roomy.covers({ project: 'other', from: now - HOUR, to: now })).toBe(true)
    // Not for windows older than what it loaded.
    expect(roomy.covers({ project: 'other', from: now - 13 * HOUR, to: now })).toBe(false)
  })

  it('judge a release whose LCP regressed, and only it', async () => {
    await c.app.vigil.detector.evaluate(now)
    const firing = c.app.vigil.detector.firing().map((a) => [a.project, a.release, a.rule, a.subject])
    expect(firing).toContainEqual(['default', '1.1.0', 'vital_regression', 'LCP'])
    expect(firing.filter(([p, r]) => p !== 'default' || r !== '1.1.0')).toEqual([])
  })

  it('hold a stranger with the public key to the newest VITALS_PER_SESSION samples of a session, sent over HTTP', async () => {
    const k = c.app.vigil.defaultProject.ingestKey
    const first = Date.now() - 10 * MIN
    const n = VITALS_PER_SESSION + 300
    // Batches of 100 at the ingest API, as any sender with the key can: every one accepted, whole.
    for (let i = 0; i < n; i += 100) {
      const ev = Array.from({ length: 100 }, (_, j) => ({ t: 'vital', ts: first + (i + j) * 100, n: 'LCP', v: i + j }))
      const res = await fetch(`${c.url}/v1/ingest`, { method: 'POST', body: JSON.stringify({ k, id: `stranger-${i}`, r: '6.6.6', s: 'stranger', ev }) })
      expect(await res.json()).toEqual({ accepted: 100, rejected: 0 })
    }
    await c.app.vigil.stored()
    const { vitals } = await c.app.vigil.store.detector.storedSessions(['default'], first - MIN)
    const mine = vitals.filter((v) => v.session === 'stranger')
    expect(mine.map((v) => [v.vt.length, Math.min(...v.vv), Math.max(...v.vv)])).toEqual([[VITALS_PER_SESSION, n - VITALS_PER_SESSION, n - 1]])
  })

  it('keep the newest VITALS_PER_SESSION samples of one session, however many it sends, in memory as in ClickHouse', async () => {
    const store = c.app.vigil.store
    const first = now - HOUR
    const flood = Array.from({ length: VITALS_PER_SESSION + 200 }, (_, i) => eventRow({ project: 'flood', release: '1.0.0', session: 'one', ts: first + i, kind: 'vital', name: 'LCP', value: i }))
    // In batches, newest first, as a sender might (each insert a row of the rollup, merged when read).
    for (let i = flood.length; i > 0; i -= 100) await insertEvents(store, flood.slice(Math.max(0, i - 100), i))
    const { vitals } = await store.detector.storedSessions(['flood'], now - 2 * HOUR)
    expect(vitals.map((v) => [v.vt.length, Math.min(...v.vt), Math.max(...v.vt)])).toEqual([[VITALS_PER_SESSION, first + 200, first + VITALS_PER_SESSION + 199]])
    const memory = sessionMemory({ store: store.detector, horizonMs: 12 * HOUR, minFailingNetworks: store.detector.minFailingNetworks })
    await memory.refresh(['flood'], now, () => 0)
    // The whole session, and its last 100 samples only.
    const windows = [{ project: 'flood', from: now - 2 * HOUR, to: now }, { project: 'flood', from: first + VITALS_PER_SESSION + 100, to: now }]
    const read = await store.detector.windowVitals(windows)
    expect(read.map((w) => w.map((v) => v.samples))).toEqual([[VITALS_PER_SESSION], [100]])
    expect(windows.map((w) => memory.vitals(w))).toEqual(read)
    // Its samples weigh against the memory's limit: five as one row (here 100 rows, and its health).
    const small = sessionMemory({ store: store.detector, horizonMs: 12 * HOUR, minFailingNetworks: store.detector.minFailingNetworks, maxRows: 100 })
    await small.refresh(['flood'], now, () => 0)
    expect(small.covers(windows[0]!)).toBe(false)
  })
})
