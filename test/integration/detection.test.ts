/**
 * Detection end to end over real HTTP, with real receivers on 127.0.0.1 for every notifier:
 * a bad release fires (signed webhook, PagerDuty trigger, Slack, Alertmanager), its verdict is
 * bad and the gate says so, recovery resolves it (PagerDuty resolve with the same dedup key),
 * a restart sends nothing again. Windows are shortened so this runs in seconds.
 */
import { createHmac } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { runCli } from '../helpers/cli.js'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'
import { startReceiver } from '../helpers/receiver.js'
import { waitFor } from '../helpers/waitFor.js'

const KEY = 'vgl_detection_key'
const SECRET = 'whsec_' + Buffer.from('detection-secret-0123456789abcdef').toString('base64')

describe('detection, alerts and verdicts', () => {
  const dir = tempDir()
  let c: Running
  const rx = {} as Record<'webhook' | 'slack' | 'pagerduty' | 'alertmanager', Awaited<ReturnType<typeof startReceiver>>>

  const start = () =>
    startCollector(
      {
        dataDir: dir.path,
        projectKey: KEY,
        evalIntervalMs: 3_600_000, // looks are taken by the test
        webhookUrl: rx.webhook.url,
        webhookSecret: SECRET,
        slackWebhookUrl: rx.slack.url,
        pagerdutyRoutingKey: 'pd-routing-key-1',
        pagerdutyUrl: rx.pagerduty.url,
        alertmanagerUrl: rx.alertmanager.url,
      },
      { detector: { minFiringMs: 0, recoveryMs: 1500 }, outbox: { pollMs: 100 } },
    )

  beforeAll(async () => {
    for (const k of ['webhook', 'slack', 'pagerduty', 'alertmanager'] as const) rx[k] = await startReceiver()
    c = await start()
  })
  afterAll(async () => {
    await c?.close()
    for (const r of Object.values(rx)) await r.close()
    dir.remove()
  })

  let n = 0
  /** One user's session: a session start and one login that succeeds or fails. */
  const session = (release: string, ok: boolean, env = 'production') =>
    fetch(`${c.url}/v1/ingest`, {
      method: 'POST',
      body: JSON.stringify({
        k: KEY,
        id: `b${n}`,
        r: release,
        e: env,
        s: `s${n++}`,
        ev: [
          { t: 'session', ts: Date.now(), o: 'start' },
          { t: 'flow', ts: Date.now(), n: 'login', o: ok ? 'ok' : 'fail', re: ok ? undefined : '401 from /api/session' },
        ],
      }),
    }).then((r) => expect(r.status).toBe(202))
  /** Many users' sessions in one batch (each event names its session): arrives all at once. */
  const sessions = (list: [release: string, ok: boolean][]) =>
    fetch(`${c.url}/v1/ingest`, {
      method: 'POST',
      body: JSON.stringify({
        k: KEY,
        id: `b${n}`,
        e: 'production',
        ev: list.flatMap(([release, ok]) => {
          const s = `s${n++}`
          return [
            { t: 'session', ts: Date.now(), o: 'start', r: release, s },
            { t: 'flow', ts: Date.now(), n: 'login', o: ok ? 'ok' : 'fail', r: release, s },
          ]
        }),
      }),
    }).then((r) => expect(r.status).toBe(202))
  const look = async () => {
    await c.app.vigil.stored()
    await c.app.vigil.detector.evaluate()
  }
  const gate = (args: string[]) => runCli(c.url, ['gate', ...args])

  it('fires on a release whose logins fail, through every notifier, with the right content', async () => {
    for (let i = 0; i < 10; i++) await session('1.0.0', true)
    // The rollout: one user in four on 1.1.0, whose login fails.
    for (let i = 0; i < 40; i++) await session(i % 4 === 3 ? '1.1.0' : '1.0.0', i % 4 !== 3)
    // The dashboard's live feed, open while the detector looks.
    const live = new WebSocket(`${c.url.replace('http', 'ws')}/v1/live`)
    const events: { type: string; status?: string; release?: string }[] = []
    live.on('message', (d) => events.push(JSON.parse(String(d)) as (typeof events)[number]))
    await new Promise((r) => live.once('open', r))
    await look()
    await waitFor('the alert on the live feed', () => events.find((e) => e.type === 'alert'))
    expect(events.find((e) => e.type === 'alert')).toMatchObject({ status: 'firing', release: '1.1.0' })
    expect(events.some((e) => e.type === 'look')).toBe(true)
    live.close()
    const hook = await waitFor('the webhook', () => rx.webhook.received[0])
    const body = hook.json as { type: string; data: Record<string, unknown> }
    expect(body.type).toBe('release.regression.firing')
    expect(body.data).toMatchObject({ release: '1.1.0', rule: 'flow_failure', flow: 'login', severity: 'critical', status: 'firing' })
    expect(body.data.baseline).toMatchObject({ kind: 'concurrent', releases: ['1.0.0'], failed_sessions: 0 })
    const sig = createHmac('sha256', Buffer.from(SECRET.slice(6), 'base64')).update(`${hook.headers['webhook-id']}.${hook.headers['webhook-timestamp']}.${hook.body}`).digest('base64')
    expect(hook.headers['webhook-signature']).toBe(`v1,${sig}`)

    const pd = (await waitFor('PagerDuty', () => rx.pagerduty.received[0])).json as Record<string, any>
    expect(pd).toMatchObject({ routing_key: 'pd-routing-key-1', event_action: 'trigger', dedup_key: body.data.alert_id })
    expect(pd.payload).toMatchObject({ severity: 'critical', source: 'vigil/default/production', component: '1.1.0', group: 'production', class: 'flow_failure' })
    expect(pd.payload.summary).toContain('login failed in 100.0% of sessions on 1.1.0')
    expect(pd.payload.custom_details).toMatchObject({ release: '1.1.0', baseline: { kind: 'concurrent' } })
    expect(pd.links[0].href).toContain('/releases/1.1.0')

    const slack = (await waitFor('Slack', () => rx.slack.received[0])).json as { text: string }
    expect(slack.text).toContain('Release 1.1.0 (production) is bad')
    expect(slack.text).toMatch(/<http:\/\/127\.0\.0\.1:\d+\/releases\/1\.1\.0\?project=default&env=production\|/)

    const am = (await waitFor('Alertmanager', () => rx.alertmanager.received[0])).json as Record<string, any>
    expect(am).toMatchObject({ version: '4', status: 'firing', receiver: 'vigil' })
    expect(am.alerts[0]).toMatchObject({ status: 'firing', endsAt: '0001-01-01T00:00:00Z', labels: { alertname: 'VigilReleaseRegression', release: '1.1.0', rule: 'flow_failure', subject: 'login', severity: 'critical' } })

    // Each delivery is recorded.
    const deliveries = await c.app.vigil.store.alerts.deliveries('default')
    expect(deliveries.map((d) => [d.notifier, d.status, d.attempts]).sort()).toEqual([
      ['alertmanager', 'delivered', 1],
      ['pagerduty', 'delivered', 1],
      ['slack', 'delivered', 1],
      ['webhook', 'delivered', 1],
    ])
  })

  it('gives verdicts a deploy pipeline can gate on', async () => {
    const bad = await fetch(`${c.url}/v1/releases/1.1.0/verdict`)
    expect(await bad.json()).toMatchObject({ verdict: 'bad', release: '1.1.0', environment: 'production' })
    expect((await gate(['--release', '1.1.0'])).code).toBe(1)
    const unknown = await gate(['--release', 'never-deployed'])
    expect(unknown.code).toBe(2)
    expect(unknown.out).toContain('never-deployed (production): unknown')

    // A healthy release: enough good sessions against the previous release's history.
    for (let i = 0; i < 40; i++) await session('g-0', true, 'gate')
    await new Promise((r) => setTimeout(r, 20))
    for (let i = 0; i < 200; i++) await session('g-1', true, 'gate')
    await look()
    const healthy = await gate(['--release', 'g-1', '--env', 'gate', '--json'])
    expect(healthy.code).toBe(0)
    // g-0 served moments before: within the baseline's 30 minutes, so a concurrent baseline.
    expect(JSON.parse(healthy.out)).toMatchObject({ verdict: 'healthy', baseline: { kind: 'concurrent', releases: ['g-0'] } })
  })

  it('resolves the alert once the release recovers, and says so to every notifier', async () => {
    await new Promise((r) => setTimeout(r, 1600)) // the failures leave the recovery window
    await sessions(Array.from({ length: 260 }, (_, i) => [i % 5 === 0 ? '1.0.0' : '1.1.0', true]))
    await look()
    const resolved = await waitFor('the resolve', () => rx.webhook.received.find((r) => (r.json as { type: string }).type === 'release.regression.resolved'))
    expect((resolved.json as { data: Record<string, unknown> }).data).toMatchObject({ status: 'resolved', release: '1.1.0', resolution: expect.stringContaining('recovered') })
    const pd = await waitFor('the PagerDuty resolve', () => rx.pagerduty.received.find((r) => (r.json as { event_action: string }).event_action === 'resolve'))
    expect(pd.json).toEqual({ routing_key: 'pd-routing-key-1', event_action: 'resolve', dedup_key: (rx.pagerduty.received[0]!.json as { dedup_key: string }).dedup_key })
    const am = await waitFor('the Alertmanager resolve', () => rx.alertmanager.received.find((r) => (r.json as { status: string }).status === 'resolved'))
    expect((am.json as { alerts: { endsAt: string }[] }).alerts[0]!.endsAt).not.toBe('0001-01-01T00:00:00Z')
    await waitFor('the Slack resolve', () => rx.slack.received.find((r) => (r.json as { text: string }).text.includes('Resolved')))
    expect(c.app.vigil.detector.firing()).toEqual([])
  })

  it('sends nothing again after a restart', async () => {
    const counts = Object.values(rx).map((r) => r.received.length)
    await c.close()
    c = await start()
    await look()
    await look()
    await new Promise((r) => setTimeout(r, 500))
    expect(Object.values(rx).map((r) => r.received.length)).toEqual(counts)
  })

  it('sends a test alert through every notifier: vigil alert test', async () => {
    const before = Object.values(rx).map((r) => r.received.length)
    const out = await runCli(c.url, ['alert', 'test'])
    expect(out.code).toBe(0)
    expect(out.out).toContain('pagerduty: delivered')
    expect(Object.values(rx).map((r) => r.received.length)).toEqual(before.map((b) => b + 1))
  })

  it('orders releases by when they arrived: one backdated event does not make a new release older', async () => {
    for (let i = 0; i < 30; i++) await session('b-1.0.0', true, 'backdated')
    // One event of the new release, dated 20 days ago (a client clock, or a stranger with the key).
    const old = await fetch(`${c.url}/v1/ingest`, {
      method: 'POST',
      body: JSON.stringify({ k: KEY, r: 'b-1.1.0', e: 'backdated', s: 'early', ev: [{ t: 'flow', ts: Date.now() - 20 * 86400_000, n: 'login', o: 'ok' }] }),
    })
    expect(old.status).toBe(202)
    // The rollout: one user in three on b-1.1.0, whose login fails for most.
    for (let i = 0; i < 60; i++) await session(i % 3 === 2 ? 'b-1.1.0' : 'b-1.0.0', i % 3 !== 2 || i % 9 === 8, 'backdated')
    await look()
    const [bad, good] = await Promise.all(['b-1.1.0', 'b-1.0.0'].map((r) => fetch(`${c.url}/v1/releases/${r}/verdict?env=backdated`).then((x) => x.json())))
    expect(bad).toMatchObject({ verdict: 'bad', baseline: { kind: 'concurrent', releases: ['b-1.0.0'] } })
    // The old release is not judged against the new one.
    expect(good).not.toMatchObject({ verdict: 'bad' })
    expect(c.app.vigil.detector.firing().map((a) => [a.env, a.release, a.subject])).toContainEqual(['backdated', 'b-1.1.0', 'login'])
    const [newest] = await c.app.vigil.store.detector.releases('default', 'backdated')
    expect(newest!.release).toBe('b-1.1.0')
  })

  it('says who is affected: the browser whose sessions fail, with its shares, in the payload and the summary', async () => {
    const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0'
    const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
    /** A session from a browser: its start, a tag, and a checkout that fails or not. */
    const visit = (release: string, ua: string, ok: boolean, i: number) =>
      fetch(`${c.url}/v1/ingest`, {
        method: 'POST',
        headers: { 'user-agent': ua },
        body: JSON.stringify({
          k: KEY,
          id: `who-${release}-${i}`,
          r: release,
          e: 'who',
          s: `who-${release}-${i}`,
          ev: [
            { t: 'session', ts: Date.now(), o: 'start' },
            { t: 'tag', ts: Date.now(), n: 'tenant', v: i % 2 ? 'acme' : 'globex' },
            { t: 'flow', ts: Date.now(), n: 'checkout', o: ok ? 'ok' : 'fail', u: 'https://shop.example/cart/123' },
          ],
        }),
      }).then((r) => expect(r.status).toBe(202))
    for (let i = 0; i < 40; i++) await visit('w-1.0.0', i % 3 ? CHROME : FIREFOX, true, i)
    // On w-1.1.0 checkout fails in Firefox (every third session), nowhere else.
    for (let i = 0; i < 36; i++) await visit('w-1.1.0', i % 3 ? CHROME : FIREFOX, i % 3 !== 0, i)
    await look()
    type Data = { release: string; rule: string; summary: string; affected: { sessions: number; failed_sessions: number; segments: { dimension: string; value: string; session_share: number; failed_share: number }[] } }
    const hook = await waitFor('the checkout alert', () => rx.webhook.received.map((r) => (r.json as { data: Data }).data).find((d) => d.release === 'w-1.1.0' && d.rule === 'flow_failure'))
    expect(hook.affected).toMatchObject({ sessions: 36, failed_sessions: 12 })
    expect(hook.affected.segments[0]).toMatchObject({ dimension: 'browser', value: 'Firefox 133', failed_share: 1 })
    expect(hook.affected.segments[0]!.session_share).toBeCloseTo(1 / 3)
    // The route the sessions failed on, and the tenants, are everyone's: there, but not above.
    expect(hook.affected.segments.find((x) => x.dimension === 'route')).toMatchObject({ value: '/cart/:id', failed_share: 1, session_share: 1 })
    expect(hook.affected.segments.find((x) => x.dimension === 'tag')?.failed_share).toBeCloseTo(0.5)
    expect(hook.summary).toMatch(/; mostly browser Firefox 133 \(100\.0% of failed sessions, 33\.3% of all\)$/)
    // The release page shows it with the alert.
    const page = (await (await fetch(`${c.url}/v1/releases/w-1.1.0?env=who&range=1h`)).json()) as { alerts: { affected: Data['affected'] | null }[] }
    expect(page.alerts[0]!.affected!.segments[0]).toMatchObject({ dimension: 'browser', value: 'Firefox 133' })
  })

  it('judges a flag variant against the flag\'s other variants in one release, naming the flag; the other variant and another flag are not blamed', async () => {
    /** A session of f-1.4.2: its flags, a start and a login that fails or not. */
    const visit = (i: number, auth: 'on' | 'off', ok: boolean) =>
      fetch(`${c.url}/v1/ingest`, {
        method: 'POST',
        body: JSON.stringify({
          k: KEY,
          id: `flag-${i}`,
          r: 'f-1.4.2',
          e: 'flags',
          s: `flag-${i}`,
          ev: [
            { t: 'session', ts: Date.now(), o: 'start' },
            { t: 'flag', ts: Date.now(), n: 'new-auth', v: auth },
            { t: 'flag', ts: Date.now(), n: 'theme', v: i % 3 ? 'light' : 'dark' },
            { t: 'flow', ts: Date.now(), n: 'login', o: ok ? 'ok' : 'fail' },
          ],
        }),
      }).then((r) => expect(r.status).toBe(202))
    // new-auth=on: 25 of 100 logins fail; off: 2 of 100. The failures fall on both themes alike
    // (a third of the sessions, and of the failures, are dark).
    for (let i = 0; i < 200; i++) await visit(i, i % 2 === 0 ? 'on' : 'off', i % 2 === 0 ? i % 8 !== 0 : i % 100 !== 1)
    await look()
    type Data = { release: string; rule: string; flag?: string; variant?: string; summary: string; baseline: { releases: string[] }; affected: { sessions: number; failed_sessions: number } }
    const hook = await waitFor('the cohort alert', () => rx.webhook.received.map((r) => (r.json as { data: Data }).data).find((d) => d.release === 'f-1.4.2' && d.flag !== undefined))
    expect(hook).toMatchObject({ rule: 'flow_failure', flag: 'new-auth', variant: 'on', baseline: { releases: ['off'] } })
    expect(hook.summary).toMatch(/^login failed in 25\.0% of sessions on f-1\.4\.2 with new-auth=on \(25\/100\) against 2\.0% with new-auth=off \(concurrent, 2\/100\)/)
    // Who is affected counts the cohort's sessions only.
    expect(hook.affected).toMatchObject({ sessions: 100, failed_sessions: 25 })
    const firing = c.app.vigil.detector.firing().filter((a) => a.release === 'f-1.4.2')
    // Stored with the cohort's key (flag and variant apart: either may hold a '=').
    expect(firing.map((a) => [a.rule, a.subject, a.cohort])).toEqual([['flow_failure', 'login', 'new-auth\u0001on']])
    // The verdict API answers for a variant; the gate too.
    const verdict = async (q: string) => ((await (await fetch(`${c.url}/v1/releases/f-1.4.2/verdict?env=flags&${q}`)).json()) as { verdict: string; flag?: string; reasons: string[] })
    expect(await verdict('flag=new-auth&variant=on')).toMatchObject({ verdict: 'bad', flag: 'new-auth' })
    expect((await verdict('flag=new-auth&variant=off')).verdict).not.toBe('bad')
    expect((await verdict('flag=theme&variant=dark')).verdict).not.toBe('bad')
    expect((await fetch(`${c.url}/v1/releases/f-1.4.2/verdict?env=flags&flag=new-auth`)).status).toBe(400)
    const out = await gate(['--release', 'f-1.4.2', '--env', 'flags', '--flag', 'new-auth=on'])
    expect(out.code).toBe(1)
    expect(out.out).toContain('f-1.4.2 with new-auth=on (flags): bad')
    // The release page shows the cohorts, each variant with its verdict and login failure rate.
    type Page = { cohorts: { flag: string; variants: { variant: string; sessions: number; verdict: string; flows: { flow: string; failed_sessions: number }[] }[] }[]; alerts: { cohort: string }[] }
    const page = (await (await fetch(`${c.url}/v1/releases/f-1.4.2?env=flags&range=1h`)).json()) as Page
    const auth = page.cohorts.find((x) => x.flag === 'new-auth')!
    expect(auth.variants.map((v) => [v.variant, v.sessions, v.verdict, v.flows.find((f) => f.flow === 'login')?.failed_sessions])).toEqual([
      ['off', 100, expect.not.stringMatching(/bad/), 2],
      ['on', 100, 'bad', 25],
    ].sort((a, b) => (a[0]! < b[0]! ? -1 : 1)))
    expect(page.cohorts.find((x) => x.flag === 'theme')!.variants.map((v) => [v.variant, v.sessions])).toEqual([['light', 133], ['dark', 67]])
    expect(page.alerts.map((a) => a.cohort)).toEqual(['new-auth=on'])
  })
})
