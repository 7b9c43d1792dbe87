/**
 * Several collectors on one ClickHouse: one that only takes events in (VIGIL_ROLE=ingest) judges
 * nothing and pages nobody; two detectors on the same store (high availability) send one page per
 * alert change — the second sees the alert the first stored, and what both send has the same id
 * (the webhook's `webhook-id`), so a receiver keeps one.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { alertSummary, createDetector } from '../../collector/src/detector/index.js'
import { createMetrics } from '../../collector/src/metrics.js'
import { createOutbox } from '../../collector/src/notify/outbox.js'
import { webhookNotifier } from '../../collector/src/notify/webhook.js'
import type { EventRow } from '../../collector/src/store/index.js'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'
import { eventRow } from '../helpers/eventRow.js'
import { startReceiver } from '../helpers/receiver.js'
import { insertEvents } from '../helpers/storeQueries.js'
import { waitFor } from '../helpers/waitFor.js'

const MIN = 60_000
const now = Math.floor(Date.now() / MIN) * MIN

/** 1.0.0 healthy, and 1.1.0 since 50 minutes ago with login failing in 3 of 8 sessions. */
const seed = (): EventRow[] => {
  const session = (release: string, id: string, at: number, failed: boolean) => [
    eventRow({ release, session: id, ts: at, kind: 'session', outcome: 'start' }),
    eventRow({ release, session: id, ts: at + 500, kind: 'flow', name: 'login', ...(failed ? { outcome: 'fail', reason: '401', step: 'submit' } : { outcome: 'ok' }) }),
  ]
  return [
    ...Array.from({ length: 540 }, (_, i) => session('1.0.0', `a${i}`, now - 3 * 3600_000 + i * 20_000, i % 100 === 0)).flat(),
    ...Array.from({ length: 80 }, (_, i) => session('1.1.0', `b${i}`, now - 50 * MIN + i * 30_000, i % 8 < 3)).flat(),
  ]
}

describe('scale-out', () => {
  const dir = tempDir()
  let c: Running | undefined
  afterAll(async () => {
    await c?.close()
    dir.remove()
  })

  it('an ingest-only collector takes events in, and neither judges, pages nor serves the dashboard', async () => {
    c = await startCollector({ dataDir: dir.path, role: 'ingest', evalIntervalMs: 50 })
    const key = c.app.vigil.defaultProject.ingestKey
    const res = await fetch(`${c.url}/v1/ingest`, { method: 'POST', body: JSON.stringify({ k: key, ev: [{ t: 'session', ts: Date.now(), o: 'start', r: '1.0.0', s: 's1' }] }) })
    expect(res.status).toBe(202)
    await c.app.vigil.stored()
    expect((await fetch(`${c.url}/v1/overview`)).status).toBe(404)
    expect((await fetch(`${c.url}/`)).status).toBe(404)
    // Looks would be due every 50 ms: none runs.
    await new Promise((r) => setTimeout(r, 300))
    const health = (await (await fetch(`${c.url}/healthz`)).json()) as Record<string, unknown>
    expect(health).toMatchObject({ status: 'ok', role: 'ingest' })
    expect(health).not.toHaveProperty('detectorLagSeconds')
    expect(await (await fetch(`${c.url}/metrics`)).text()).not.toMatch(/^vigil_detector_looks_total\{/m)
    await c.close()
    c = undefined
  })

  it('two detectors on one store page once per alert change, under one id', async () => {
    const rx = await startReceiver()
    try {
      c = await startCollector({ dataDir: dir.path, evalIntervalMs: 3_600_000, webhookUrl: rx.url })
      const { store } = c.app.vigil
      await insertEvents(store, seed())
      // Another collector's detector and outbox on the same store, sending to the same receiver.
      const log = { info: () => undefined, warn: () => undefined }
      const outbox = createOutbox({ store: store.alerts, notifiers: [webhookNotifier(rx.url)], metrics: createMetrics(), log }, { pollMs: 50 })
      outbox.start()
      const other = createDetector({ store: store.detector, alertStore: store.alerts, outbox, projectIds: () => ['default'], publicUrl: () => c!.url, log })
      try {
        const first = c.app.vigil.detector
        await first.evaluate(now)
        await other.evaluate(now + 2000)
        const fired = (await store.alerts.alerts('default')).filter((a) => a.release === '1.1.0')
        expect(fired.map((a) => [a.rule, a.subject, a.status, a.episode])).toEqual([['flow_failure', 'login', 'firing', 1]])
        // The release has had no traffic for 15 minutes: both resolve it, the first first.
        await first.evaluate(now + 20 * MIN)
        await other.evaluate(now + 20 * MIN + 2000)
        expect((await store.alerts.alerts('default')).filter((a) => a.release === '1.1.0').map((a) => [a.status, a.episode])).toEqual([['resolved', 1]])

        // Each change reaches the receiver under one id, however many of the outboxes sent it.
        const ids = await waitFor('both changes delivered', async () => {
          const seen = new Set(rx.received.map((r) => String(r.headers['webhook-id'])))
          return seen.size >= 2 ? [...seen].sort() : undefined
        })
        expect(ids).toHaveLength(2)
        expect(ids.map((id) => id.replace(/^msg_[0-9a-f]{20}_/, ''))).toEqual(['e1_firing', 'e1_resolved'])
        expect((rx.received[0]!.json as { data: { summary: string } }).data.summary).toBe(alertSummary(fired[0]!))
      } finally {
        await other.stop()
        await outbox.stop()
      }
    } finally {
      await rx.close()
    }
  })
})
