/**
 * Alert deliveries with real receivers on 127.0.0.1: a receiver that never answers holds back
 * no other receiver's deliveries; a delivery whose outcome was not recorded (a stop, a kill -9
 * mid-request) goes again after the restart under the same id, and one recorded as delivered
 * never goes again. Delivery is at least once, with a stable id.
 */
import { afterAll, describe, expect, it } from 'vitest'
import type { AlertMessage } from '../../collector/src/notify/types.js'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'
import { startCollectorProcess } from '../helpers/collectorProcess.js'
import { freePort } from '../helpers/freePort.js'
import { startReceiver, type Received } from '../helpers/receiver.js'
import { waitFor } from '../helpers/waitFor.js'

const KEY = 'vgl_deliveries_key'

/** A firing alert's message as the detector hands it to the outbox. */
const firing = (release: string): AlertMessage => ({
  id: `msg_deliveries_${release}_firing`,
  type: 'release.regression.firing',
  at: Date.now(),
  data: {
    alert_id: `default/production/${release}/flow_failure/login`,
    status: 'firing',
    severity: 'critical',
    summary: `login failed on ${release}`,
    project: 'default',
    environment: 'production',
    release,
    rule: 'flow_failure',
    subject: 'login',
  },
})
const webhookId = (r: Received) => r.headers['webhook-id']
const dedupKey = (r: Received) => (r.json as { dedup_key: string }).dedup_key

describe('alert deliveries', () => {
  const dirs: ReturnType<typeof tempDir>[] = []
  const closers: (() => Promise<void>)[] = []
  afterAll(async () => {
    for (const close of closers.reverse()) await close()
    dirs.forEach((d) => d.remove())
  })

  it('a receiver that never answers holds back no other receiver, and only what was not delivered goes again after a restart', async () => {
    const dir = tempDir()
    dirs.push(dir)
    const hung = await startReceiver()
    const pagerduty = await startReceiver()
    closers.push(hung.close, pagerduty.close)
    hung.hold()
    // An attempt's timeout far beyond the test: the webhook's request stays open throughout.
    const start = () =>
      startCollector(
        { dataDir: dir.path, projectKey: KEY, evalIntervalMs: 3_600_000, webhookUrl: hung.url, pagerdutyRoutingKey: 'pd-key', pagerdutyUrl: pagerduty.url },
        { outbox: { pollMs: 100, attemptTimeoutMs: 600_000 } },
      )
    let c: Running = await start()
    closers.push(() => c.close())
    const enqueue = (m: AlertMessage) => c.app.vigil.outbox.enqueue(m, m.data.alert_id as string, 'default')

    const first = firing('1.1.0')
    await enqueue(first)
    await waitFor('the webhook to hold the first alert', () => hung.holding().length === 1)
    await waitFor('the first alert at PagerDuty', () => pagerduty.received.length === 1)

    const second = firing('1.2.0')
    await enqueue(second)
    await waitFor('the second alert at PagerDuty', () => pagerduty.received.length === 2)
    // It arrived while the webhook still held the first alert's request open.
    expect(hung.holding()).toHaveLength(1)
    expect(hung.holding()[0]).toBe(hung.received[0])
    expect(webhookId(hung.received[0]!)).toBe(first.id)
    expect(pagerduty.received.map(dedupKey)).toEqual([first.data.alert_id, second.data.alert_id])

    // A stop cuts the held attempt short; its outcome unknown, it stays pending.
    await c.close()
    await waitFor('the held request to be dropped', () => hung.holding().length === 0)
    hung.hold(false)
    c = await start()
    await waitFor('both alerts at the webhook', () => hung.received.length === 3)
    // The first again under the id it had, then the second; PagerDuty had both: nothing again.
    expect(hung.received.map(webhookId)).toEqual([first.id, first.id, second.id])
    const recorded = await waitFor('every delivery recorded as delivered', async () => {
      const all = await c.app.vigil.store.alerts.deliveries('default')
      return all.length === 4 && all.every((d) => d.status === 'delivered') && all
    })
    // The attempt cut short by the stop is not counted as one.
    expect(recorded.map((d) => d.attempts)).toEqual([1, 1, 1, 1])
    expect(pagerduty.received.length).toBe(2)
  })

  it('after kill -9 during a delivery and a restart, the alert goes again under the same id', async () => {
    const dir = tempDir()
    dirs.push(dir)
    const rx = await startReceiver()
    closers.push(rx.close)
    rx.hold()
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const env = { VIGIL_PROJECT_KEY: KEY, VIGIL_RATE_LIMIT: '0', VIGIL_EVAL_INTERVAL_MS: '200', VIGIL_WEBHOOK_URL: rx.url }
    let child = await startCollectorProcess(dir.path, port, env)
    closers.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    })

    // A rollout whose new release fails every login: the detector fires and the webhook holds it.
    for (let i = 0; i < 50; i++) {
      const release = i >= 10 && i % 4 === 3 ? '1.1.0' : '1.0.0'
      const ok = release === '1.0.0'
      const res = await fetch(`${url}/v1/ingest`, {
        method: 'POST',
        body: JSON.stringify({
          k: KEY,
          id: `b${i}`,
          r: release,
          s: `s${i}`,
          ev: [
            { t: 'session', ts: Date.now(), o: 'start' },
            { t: 'flow', ts: Date.now(), n: 'login', o: ok ? 'ok' : 'fail' },
          ],
        }),
      })
      expect(res.status).toBe(202)
    }
    await waitFor('the webhook to hold the alert', () => rx.holding().length === 1)
    const dead = new Promise((r) => child.once('exit', r))
    child.kill('SIGKILL')
    await dead
    await waitFor('the held request to die with the process', () => rx.holding().length === 0)

    rx.hold(false)
    child = await startCollectorProcess(dir.path, port, env)
    await waitFor('the alert after the restart', () => rx.received.length >= 2)
    const [held, again] = rx.received as [Received, Received]
    expect(webhookId(again)).toBe(webhookId(held))
    expect(again.json).toMatchObject({ type: 'release.regression.firing', data: (held.json as { data: object }).data })
    const delivery = await waitFor('the delivery recorded', async () => {
      const { deliveries } = (await (await fetch(`${url}/v1/alerts`)).json()) as { deliveries: { notifier: string; status: string }[] }
      return deliveries.length === 1 && deliveries[0]!.status === 'delivered' && deliveries[0]
    })
    expect(delivery.notifier).toBe('webhook')
    // One alert, one id, however often it went.
    expect(new Set(rx.received.map(webhookId))).toEqual(new Set([webhookId(held)]))
    const stopped = new Promise((r) => child.once('exit', r))
    child.kill('SIGTERM')
    await stopped
  })
})
