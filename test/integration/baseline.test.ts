/**
 * One concurrent baseline (collector/src/baseline.ts): on the same stored sessions, the alert the
 * detector fires, the collector's release page and the Grafana panel "Flow failure rate by
 * release" give a release the same baseline — the same sessions of the older release, the same
 * failures — and not the older release's incident before the new one appeared.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { releaseNumbers } from '../../collector/src/releaseNumbers.js'
import type { EventRow } from '../../collector/src/store/index.js'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'
import { eventRow } from '../helpers/eventRow.js'
import { dashboards, expand, queryPanels } from '../helpers/grafana.js'
import { insertEvents, runSql } from '../helpers/storeQueries.js'

const MIN = 60_000
const now = Math.floor(Date.now() / MIN) * MIN
/** When 1.1.0 appeared in production: 50 minutes ago, longer than the baseline's least span (30 minutes). */
const appeared = now - 50 * MIN

/** A session of `release` at `at` that ran login: failing, then (with `recovered`) succeeding later. */
const session = (release: string, id: string, at: number, o: { failed: boolean; recoveredAt?: number; env?: string }): EventRow[][] => {
  const row = (ts: number, x: Partial<EventRow>) => eventRow({ release, session: id, ts, kind: 'flow', name: 'login', outcome: 'ok', env: o.env ?? 'production', ...x })
  const first = [row(at, { kind: 'session', name: '', outcome: 'start' }), row(at + 500, o.failed ? { outcome: 'fail', reason: '401', step: 'submit' } : {})]
  // A later event goes in a later insert.
  return o.recoveredAt === undefined ? [first] : [first, [row(o.recoveredAt, {})]]
}

/** Per session, its rows of the first insert and, for some, of the second. */
const seed = (): EventRow[][][] => {
  const out: EventRow[][][] = []
  // 1.0.0 since three hours ago; an incident an hour ago, before 1.1.0 appeared: 40 sessions, half
  // failing. It must not colour 1.1.0's baseline.
  for (let i = 0; i < 40; i++) out.push(session('1.0.0', `inc${i}`, now - 180 * MIN + i * MIN, { failed: false }))
  for (let i = 0; i < 40; i++) out.push(session('1.0.0', `old${i}`, now - 60 * MIN + i * 1000, { failed: i % 2 === 0 }))
  // Since 1.1.0 appeared: 120 sessions of 1.0.0, 3 failing; and one that failed before and
  // succeeds now (a session of the baseline, not one that failed in it).
  for (let i = 0; i < 120; i++) out.push(session('1.0.0', `b${i}`, appeared + MIN + i * 20_000, { failed: i < 3 }))
  out.push(session('1.0.0', 'back', now - 55 * MIN, { failed: true, recoveredAt: now - 10 * MIN }))
  // 1.1.0: 80 sessions, 30 failing login.
  for (let i = 0; i < 80; i++) out.push(session('1.1.0', `n${i}`, appeared + i * 30_000, { failed: i % 8 < 3 }))
  // In canary, 1.1.0 appeared 12 minutes ago: its baseline is 1.0.0's last 30 minutes — sessions
  // 90 to 179, two of them failing (10 failed before).
  const canary = { env: 'canary' }
  for (let i = 0; i < 180; i++) out.push(session('1.0.0', `c${i}`, now - 60 * MIN + i * 20_000, { ...canary, failed: i === 10 || i === 100 || i === 150 }))
  for (let i = 0; i < 72; i++) out.push(session('1.1.0', `cn${i}`, now - 12 * MIN + i * 10_000, { ...canary, failed: i % 3 === 0 }))
  return out
}

describe('the concurrent baseline', () => {
  const dir = tempDir()
  let c: Running

  beforeAll(async () => {
    // The detector looks only when told to.
    c = await startCollector({ dataDir: dir.path, evalIntervalMs: 3_600_000 }, { outbox: { pollMs: 3_600_000 } })
    // Two inserts: every session's first rows, then the later events (partial rows until a merge).
    const inserts = seed()
    await insertEvents(c.app.vigil.store, inserts.map((x) => x[0]!).flat())
    await insertEvents(c.app.vigil.store, inserts.flatMap((x) => x.slice(1)).flat())
  })
  afterAll(async () => {
    await c?.close()
    dir.remove()
  })

  type Baseline = { kind: string; releases: string[]; sessions: number; failed_sessions: number }
  /** 1.1.0's login baseline in `env`: in its alert, on the page and in the Grafana panel over the last `rangeMs`. */
  const baselines = async (env: string, rangeMs: number) => {
    const store = c.app.vigil.store
    const alerts = (await store.alerts.alerts('default')).filter((a) => a.env === env && a.release === '1.1.0' && a.rule === 'flow_failure' && a.subject === 'login')
    expect(alerts.map((a) => a.status)).toEqual(['firing'])
    const fired = (JSON.parse(alerts[0]!.payload) as { baseline: Baseline }).baseline
    const page = await releaseNumbers(store.pages, { project: 'default', env, from: now - rangeMs, to: now })
    const onPage = page.releases.find((r) => r.release === '1.1.0')!.flows.login!.baseline!
    const panel = queryPanels(dashboards.find((d) => d.file === 'vigil-release-health.json')!.json).find((p) => p.title === 'Flow failure rate by release')!
    const sql = expand(panel.targets![0]!.rawSql!, { project: 'default', env }, { from: now - rangeMs, to: now, intervalS: 60 })
    const inGrafana = (await runSql<{ release: string; flow: string; baseline_sessions: number; baseline_failed_sessions: number }>(store, sql)).find(
      (r) => r.release === '1.1.0' && r.flow === 'login',
    )!
    return { fired, onPage, inGrafana }
  }
  const agree = (b: Awaited<ReturnType<typeof baselines>>, expected: { sessions: number; failed: number }) => {
    expect(b.fired).toMatchObject({ kind: 'concurrent', releases: ['1.0.0'], sessions: expected.sessions, failed_sessions: expected.failed })
    expect(b.onPage).toMatchObject({ releases: ['1.0.0'], sessions: expected.sessions, failed_sessions: expected.failed })
    expect(b.inGrafana).toMatchObject({ baseline_sessions: expected.sessions, baseline_failed_sessions: expected.failed })
  }

  it('is the same in the alert, on the release page and in the Grafana panel', async () => {
    await c.app.vigil.detector.evaluate(now)
    // 1.0.0's 120 sessions since 1.1.0 appeared and the one active in both (3 failed since then),
    // not its 40 of the hour before (20 failed).
    agree(await baselines('production', 6 * 3600_000), { sessions: 121, failed: 3 })
  })

  it('is the same for a release minutes old, over its least span, on a page of the last hour', async () => {
    agree(await baselines('canary', 3600_000), { sessions: 90, failed: 2 })
  })
})
