/**
 * The pages read rollups (store/pageStats.ts): whole days, whole hours and minutes around them and
 * the events of the part-minutes at the edges. On ranges whose edges fall mid-minute, mid-hour and mid-day,
 * their numbers are those counted straight from the raw events; where a sketch (`uniq`) stands for
 * an exact distinct count past its exact range, it stays within 2% of it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EventRow } from '../../collector/src/store/index.js'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'
import { eventRow } from '../helpers/eventRow.js'
import { insertEvents, runSql } from '../helpers/storeQueries.js'

const MIN = 60_000
const HOUR = 3600_000
const DAY = 24 * HOUR
// A past moment off every minute and hour: 17 min 23.456 s past an hour, an hour ago.
const now = Math.floor(Date.now() / HOUR) * HOUR - HOUR + 17 * MIN + 23_456
const appeared = now - 2 * HOUR - 17 * MIN - 13_789

/**
 * Sessions of a release spread over [start, end): a start, a login (failing every `failEvery`), a
 * call to an endpoint (failing every 7th: not a crash), an unhandled error every 50th, an LCP.
 */
const sessions = (release: string, n: number, start: number, end: number, failEvery: number): EventRow[] =>
  Array.from({ length: n }, (_, i) => {
    const at = start + Math.floor(((end - start) * i) / n)
    const s = `${release}-${i}`
    return [
      eventRow({ release, session: s, ts: at, kind: 'session', outcome: 'start' }),
      eventRow({ release, session: s, ts: at + 700, kind: 'flow', name: 'login', ...(i % failEvery === 0 ? { outcome: 'fail', reason: '500' } : { outcome: 'ok' }) }),
      eventRow({ release, session: s, ts: at + 800, kind: 'request', name: 'GET /api/plans/:id', ...(i % 7 === 0 ? { outcome: 'fail', reason: '503', value: 120 } : { outcome: 'ok', value: 3 }) }),
      ...(i % 50 === 0 ? [eventRow({ release, session: s, ts: at + 900, kind: 'error', name: 'TypeError', fingerprint: 'fp', handled: 0 })] : []),
      eventRow({ release, session: s, ts: at + 1100, kind: 'vital', name: 'LCP', value: 800 + (i % 97) * 20 }),
    ]
  }).flat()

type Raw = { release: string; sessions: number; crashed: number; login: number; failed: number; attempts: number; failures: number; called: number; callFailed: number; samples: number; p75: number }
const FAILED_NOT_FLOW = "(kind = 'error' AND handled = 0) OR (kind = 'session' AND outcome = 'crashed')"

describe('the pages’ rollups', () => {
  const dir = tempDir()
  let c: Running
  beforeAll(async () => {
    c = await startCollector({ dataDir: dir.path, evalIntervalMs: 3_600_000 })
    await insertEvents(c.app.vigil.store, [
      ...sessions('0.9.0', 1500, now - 3 * DAY, now - 2 * HOUR, 20),
      ...sessions('1.0.0', 3000, now - 5 * HOUR, now, 50),
      ...sessions('1.1.0', 2000, appeared, now, 10),
    ])
  })
  afterAll(async () => {
    await c?.close()
    dir.remove()
  })

  const raw = (from: number, to: number) =>
    runSql<Raw>(
      c.app.vigil.store,
      `SELECT release, uniqExact(session) AS sessions, uniqExactIf(session, ${FAILED_NOT_FLOW}) AS crashed,
        uniqExactIf(session, kind = 'flow' AND name = 'login') AS login, uniqExactIf(session, kind = 'flow' AND name = 'login' AND outcome != 'ok') AS failed,
        countIf(kind = 'flow') AS attempts, countIf(kind = 'flow' AND outcome != 'ok') AS failures,
        uniqExactIf(session, kind = 'request') AS called, uniqExactIf(session, kind = 'request' AND outcome != 'ok') AS callFailed,
        countIf(kind = 'vital') AS samples, quantileExactIf(0.75)(value, kind = 'vital') AS p75
      FROM events WHERE project = 'default' AND env = 'production'
        AND ts BETWEEN fromUnixTimestamp64Milli(${from}, 'UTC') AND fromUnixTimestamp64Milli(${to}, 'UTC')
      GROUP BY release ORDER BY release`,
    )

  it.each([
    ['three days, edges mid-day', now - 2 * DAY - 5 * HOUR - 12_345, now - 7_000],
    ['three hours, edges mid-minute', now - 3 * HOUR - 12_345, now - 7_000],
    ['fifteen minutes', now - 15 * MIN - 500, now],
    ['within one minute', now - 40_000, now - 10_000],
  ])('gives what the events give over %s', async (_what, from, to) => {
    const pages = c.app.vigil.store.pages
    const [counted, bySession, { flows, vitals }] = await Promise.all([raw(from, to), pages.releaseSessions('default', 'production', from, to), pages.flowsAndVitals('default', 'production', from, to)])
    expect(counted.length).toBeGreaterThan(0)
    for (const r of counted) {
      expect(bySession.find((x) => x.release === r.release), r.release).toEqual({ release: r.release, sessions: r.sessions, crashed: r.crashed })
      expect(flows.find((x) => x.release === r.release && x.flow === 'login'), r.release).toEqual({
        release: r.release, kind: 'flow', flow: 'login', sessions: r.login, failed: r.failed, attempts: r.attempts, failures: r.failures,
      })
      // An endpoint as a flow; its failed calls are no crashes (above).
      expect(flows.find((x) => x.release === r.release && x.kind === 'request'), r.release).toMatchObject({
        flow: 'GET /api/plans/:id', sessions: r.called, failed: r.callFailed, failures: r.callFailed,
      })
      const lcp = vitals.find((x) => x.release === r.release && x.name === 'LCP')!
      expect(lcp.samples, r.release).toBe(r.samples)
      // quantile(0.75) interpolates where the exact one picks a sample: within a step of the values.
      expect(Math.abs(lcp.p75 - r.p75), r.release).toBeLessThanOrEqual(20)
    }
  })

  it('gives a baseline that starts mid-hour what the events give', async () => {
    const from = now - 6 * HOUR
    const baselines = await c.app.vigil.store.pages.flowBaselines(
      'default',
      'production',
      [{ release: '1.1.0', arrived: appeared, since: appeared }],
      [{ release: '1.0.0', arrived: now - 5 * HOUR }, { release: '1.1.0', arrived: appeared }],
      now,
    )
    const b = baselines.find((x) => x.kind === 'flow')
    const [counted] = await raw(appeared, now).then((rows) => rows.filter((r) => r.release === '1.0.0'))
    expect(from).toBeLessThan(appeared)
    expect(b).toMatchObject({ target: '1.1.0', flow: 'login', sessions: counted!.login, failed: counted!.failed, releases: ['1.0.0'], release_count: 1 })
  })

  it('gives baselines starting days apart, one mid-day within the range, what the events give', async () => {
    const targets = [
      { release: '1.1.0', arrived: appeared, since: now - 1.6 * DAY - 1_234 },
      { release: '1.0.0', arrived: now - 5 * HOUR, since: now - 2.9 * DAY + 777 },
    ]
    const rows = await c.app.vigil.store.pages.flowBaselines('default', 'production', targets, [{ release: '0.9.0', arrived: now - 3 * DAY }, ...targets], now)
    for (const t of targets) {
      const pooled = (await raw(t.since, now)).filter((r) => r.release < t.release)
      const of = (kind: string) => rows.find((r) => r.target === t.release && r.kind === kind)
      expect(pooled.length, t.release).toBeGreaterThan(0)
      expect(of('flow'), t.release).toMatchObject({ flow: 'login', sessions: pooled.reduce((n, r) => n + r.login, 0), failed: pooled.reduce((n, r) => n + r.failed, 0) })
      expect(of('request'), t.release).toMatchObject({ flow: 'GET /api/plans/:id', sessions: pooled.reduce((n, r) => n + r.called, 0), failed: pooled.reduce((n, r) => n + r.callFailed, 0) })
    }
  })

  it('counts a hundred thousand sessions within 2% (uniq past its exact range)', async () => {
    const start = now - 30 * MIN
    const many = Array.from({ length: 100_000 }, (_, i) => eventRow({ release: '2.0.0', session: `m-${i}`, ts: start + (i % 600_000), kind: 'session', outcome: 'start' }))
    for (let i = 0; i < many.length; i += 50_000) await insertEvents(c.app.vigil.store, many.slice(i, i + 50_000))
    const [sketch] = (await c.app.vigil.store.pages.releaseSessions('default', 'production', start, now)).filter((r) => r.release === '2.0.0')
    expect(Math.abs(sketch!.sessions - 100_000) / 100_000).toBeLessThan(0.02)
  })
})
