/**
 * Failed requests, in real Chromium against a real collector and a real API on 127.0.0.1: the
 * agent wraps the page's fetch and XMLHttpRequest, the collector judges each endpoint per release
 * against the baseline (`request_failure`), and on-call is paged naming the endpoint — for 5xx
 * answers, for requests that never answer (the app's timeout), and for CORS failures.
 */
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { html, startAppServer, type Page } from '../helpers/appServer.js'
import { launchChromium } from '../helpers/browser.js'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'
import { startReceiver } from '../helpers/receiver.js'
import { storedEvents } from '../helpers/storeQueries.js'
import { waitFor } from '../helpers/waitFor.js'

const KEY = 'vgl_requests_e2e_key'
const GOOD_SESSIONS = 40
const BAD_SESSIONS = 28

/** Does the n-th call (from 0) of a release fail? 30% of 1.1.0's calls, 1% of 1.0.0's, spread as if at random. */
const fails = (release: string, n: number) => ((n * 7919 + 13) % 100) / 100 < (release === '1.1.0' ? 0.3 : 0.01)

describe('failed requests in Chromium', () => {
  const dir = tempDir()
  let collector: Running
  let receiver: Awaited<ReturnType<typeof startReceiver>>
  let app: Awaited<ReturnType<typeof startAppServer>>
  let api: Awaited<ReturnType<typeof startAppServer>>
  let browser: Browser
  const made: Record<string, number> = {}
  /** The n-th call of this endpoint by this release. */
  const call = (endpoint: string, q: URLSearchParams) => {
    const k = `${endpoint} ${q.get('r')}`
    made[k] = (made[k] ?? 0) + 1
    return fails(q.get('r') ?? '', made[k] - 1)
  }
  const json = (status = 200, headers: Record<string, string> = {}): Page => ({ body: '{"plans":[]}', type: 'application/json', status, headers })

  // The app: each endpoint twice, by fetch and by XMLHttpRequest — the plans, the invoices with a
  // 2 s timeout, and the prices from another origin (CORS); every failure handled, as a careful
  // app does. `done` once every call has ended.
  const appCode = (apiOrigin: string) => `
window.done = (async () => {
  const r = new URLSearchParams(location.search).get('r')
  const settle = (p) => p.then((res) => res.status, (e) => e.name)
  const xhr = (url, timeout) => new Promise((resolve) => {
    const x = new XMLHttpRequest()
    x.open('GET', url)
    x.timeout = timeout || 0
    x.onloadend = () => resolve(x.status)
    x.send()
  })
  return Promise.all([
    settle(fetch('/api/plans/' + Math.floor(Math.random() * 1e6) + '?r=' + r)),
    xhr('/api/plans/' + Math.floor(Math.random() * 1e6) + '?r=' + r),
    settle(fetch('/api/invoices?r=' + r, { signal: AbortSignal.timeout(2000) })),
    xhr('/api/invoices?r=' + r, 2000),
    settle(fetch('${apiOrigin}/api/prices?r=' + r)),
    xhr('${apiOrigin}/api/prices?r=' + r),
  ])
})()`

  const thrower = `window.fetch = function () { throw new Error('this page has no fetch') }`
  // The page's own code after the tag: its fetch throws to it as it should, and the page goes on.
  const replaced = `${thrower}
try { fetch('/api/plans/1') } catch (e) { document.title = e.message }
vigil.flow('after').ok()`
  // A 404, a 503, a 200, and a call to the API's origin.
  const calls = () => `window.done = Promise.all(['/api/missing', '/api/boom', '/api/plans/7?r=x'].map((u) => fetch(u).then((r) => r.status))
  .concat(fetch('${api.origin}/api/prices?r=x').then((r) => r.status, (e) => e.name)))
  .then((s) => (vigil.flow('after').ok(), s))`

  beforeAll(async () => {
    receiver = await startReceiver()
    collector = await startCollector({ dataDir: dir.path, projectKey: KEY, webhookUrl: receiver.url, evalIntervalMs: 200 })
    api = await startAppServer(collector.url, {
      // Answered without CORS headers when it fails: the browser refuses the page the answer.
      '/api/prices': (q) => json(200, call('prices', q) ? {} : { 'access-control-allow-origin': '*' }),
    })
    app = await startAppServer(collector.url, {
      '/p': (q) => html({ key: KEY, release: q.get('r') ?? '', env: 'production', head: `<script>${appCode(api.origin)}</script>` }),
      '/api/plans/:id': (q) => json(call('plans', q) ? 500 : 200),
      '/api/invoices': (q) => (call('invoices', q) ? { body: '', hang: true } : json()),
      '/blank': { body: '<!doctype html><title>elsewhere</title>' },
      '/api/missing': { body: '{}', status: 404 },
      '/api/boom': { body: '{}', status: 503 },
      // Pages that replace fetch with one that throws, after the agent loaded and before.
      '/replaced-after': (q) => html({ key: KEY, release: q.get('r') ?? '', head: `<script>${replaced}</script>` }),
      '/replaced-before': (q) => ({ body: html({ key: KEY, release: q.get('r') ?? '', head: `<script>${replaced}</script>` }).body.replace('<script src="/vigil.js"', `<script>${thrower}</script><script src="/vigil.js"`) }),
      // A page whose own fetch (a mock, say) resolves to nothing: the page still gets nothing, not a rejection.
      '/resolves-nothing': (q) => ({
        body: html({ key: KEY, release: q.get('r') ?? '', head: `<script>fetch('/api/x').then((r) => { document.title = 'got ' + r }, (e) => { document.title = 'rejected: ' + e.message })</script>` }).body.replace(
          '<script src="/vigil.js"',
          `<script>window.fetch = function () { return Promise.resolve(undefined) }</script><script src="/vigil.js"`,
        ),
      }),
      // Requests off (`data-requests="false"`), and an app's own options: a 404 it expects, an origin it leaves out.
      '/off': (q) => html({ key: KEY, release: q.get('r') ?? '', attrs: 'data-requests="false"', head: `<script>${calls()}</script>` }),
      '/options': (q) =>
        html({
          key: KEY,
          release: '',
          tag: `<script src="/vigil.js"></script><script>vigil.init({ key: '${KEY}', release: '${q.get('r')}', requests: { expected: [404], deny: ['${api.origin}'] } })</script>`,
          head: `<script>${calls()}</script>`,
        }),
    })
    browser = await launchChromium()
  })

  afterAll(async () => {
    await browser?.close()
    await app?.close()
    await api?.close()
    await collector?.close()
    await receiver?.close()
    dir.remove()
  })

  /**
   * Users' sessions, `n` of them, four tabs at a time (each its own browser context): a visit to
   * the page, its calls, then away (the agent sends its counts as the page goes); a tab's next
   * visit is a new session (the agent's session forgotten between visits, its outbox kept).
   */
  const sessions = async (release: string, n: number) => {
    const tab = async (visits: number) => {
      const context = await browser.newContext()
      const p = await context.newPage()
      for (let i = 0; i < visits; i++) {
        await p.goto(`${app.origin}/p?r=${release}`)
        await p.evaluate(() => (window as unknown as { done: Promise<unknown[]> }).done)
        await p.goto(`${app.origin}/blank`)
        await p.evaluate(() => localStorage.removeItem('vigil.s'))
      }
      return context
    }
    const contexts = await Promise.all([0, 1, 2, 3].map((t) => tab(Math.floor(n / 4) + (t < n % 4 ? 1 : 0))))
    // Open till the end: a batch sent as a page went may still be on its way.
    return () => Promise.all(contexts.map((c) => c.close()))
  }

  it('pages on-call naming the endpoint that fails on the new release: 5xx, no answer (timeout), CORS', async () => {
    const closeGood = await sessions('1.0.0', GOOD_SESSIONS)
    const closeBad = await sessions('1.1.0', BAD_SESSIONS)
    const prices = `GET ${api.origin}/api/prices`
    const endpoints = ['GET /api/plans/:id', 'GET /api/invoices', prices]
    type Segment = { dimension: string; value: string; failed_share: number; session_share: number }
    type Alert = {
      data: { rule: string; subject: string; release: string; endpoint?: string; summary: string; status: string; affected: { sessions: number; failed_sessions: number; segments: Segment[] } }
    }
    const firing = () => receiver.received.map((r) => (r.json as Alert).data).filter((d) => d.status === 'firing')
    await waitFor('an alert for each failing endpoint', () => (endpoints.every((e) => firing().some((d) => d.subject === e)) ? true : undefined), 45_000).catch(async (e: Error) => {
      const numbers = await Promise.all(['1.0.0', '1.1.0'].map(async (r) => JSON.stringify(((await (await fetch(`${collector.url}/v1/releases/${r}?env=production&range=1h`)).json()) as { requests: unknown }).requests)))
      throw new Error(`${e.message}; fired: ${JSON.stringify(firing().map((d) => d.summary))}; releases: ${numbers.join('\n')}`)
    })
    for (const e of endpoints) {
      const a = firing().find((d) => d.subject === e)!
      expect(a).toMatchObject({ rule: 'request_failure', release: '1.1.0', endpoint: e })
      expect(a.summary).toMatch(new RegExp(`^${e.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} failed in \\d+\\.\\d% of sessions that called it on 1\\.1\\.0 \\(\\d+/\\d+\\) against \\d+\\.\\d% on 1\\.0\\.0`))
    }
    // Who is affected: the failed sessions, counted as the rule judged them; every session here
    // is one browser on one route, so no segment stands out and none is named.
    for (const d of firing()) {
      expect(d.affected.failed_sessions).toBeGreaterThan(0)
      expect(d.summary).not.toContain('; mostly')
    }
    // The old release is not blamed, and nothing else fires (every failure was handled by the app).
    expect(firing().filter((d) => d.release !== '1.1.0' || d.rule !== 'request_failure')).toEqual([])

    // What was stored: a failed call with its status (0: no answer the page may read) and
    // duration, a timeout, and the calls that went well counted per session and endpoint.
    // Every call is counted once: 2 plans per session, failed (one row each) or ok (`value` calls);
    // the last pages' batches may still be on their way.
    const plansCalls = (rows: { name: string; outcome: string; value: number }[]) =>
      rows.filter((r) => r.name === 'GET /api/plans/:id').reduce((n, r) => n + (r.outcome === 'ok' ? r.value : 1), 0)
    const rows = await waitFor('every call counted', async () => {
      const all = (await storedEvents(collector.app.vigil.store, 'default', { release: '1.1.0' })).filter((r) => r.kind === 'request')
      return plansCalls(all) >= 2 * BAD_SESSIONS ? all : undefined
    })
    expect(plansCalls(rows)).toBe(2 * BAD_SESSIONS)
    const plans500 = rows.find((r) => r.name === 'GET /api/plans/:id' && r.outcome === 'fail')!
    expect(plans500.reason).toBe('500')
    expect(plans500.value).toBeGreaterThan(0)
    expect(rows.find((r) => r.name === prices && r.outcome === 'fail')).toMatchObject({ reason: '0' })
    // Timed out by fetch's AbortSignal and by XMLHttpRequest's timeout alike.
    const timeouts = rows.filter((r) => r.name === 'GET /api/invoices' && r.outcome === 'timeout')
    expect(timeouts.length).toBeGreaterThan(1)
    // About the 2 s the app gave them (its signal starts its clock a little before fetch is called).
    for (const t of timeouts) expect(t.value).toBeGreaterThan(1900)
    const plans = rows.filter((r) => r.name === 'GET /api/plans/:id')
    expect(new Set(plans.filter((r) => r.outcome === 'ok').map((r) => r.session)).size).toBeLessThanOrEqual(BAD_SESSIONS)
    // The release's page lists them, each against the same endpoint on the releases before it.
    const page = (await (await fetch(`${collector.url}/v1/releases/1.1.0?env=production&range=1h`)).json()) as {
      requests: { endpoint: string; failed_sessions: number; sessions: number; baseline: { releases: string[] } | null }[]
    }
    expect(page.requests.map((r) => r.endpoint).sort()).toEqual([...endpoints].sort())
    for (const r of page.requests) expect(r).toMatchObject({ sessions: BAD_SESSIONS, baseline: { releases: ['1.0.0'] } })
    // The agent's own sends are never the app's requests.
    expect(rows.filter((r) => r.name.includes('/v1/'))).toEqual([])
    await closeGood()
    await closeBad()
  }, 120_000)

  it('never breaks a page that replaces fetch, never reports its own sends, and does as the app says', async () => {
    const context = await browser.newContext()
    const p = await context.newPage()
    const pageErrors: string[] = []
    p.on('pageerror', (e) => pageErrors.push(e.message))
    const rowsOf = async (release: string, flows: number) =>
      waitFor(`the flows of ${release}`, async () => {
        const rows = await storedEvents(collector.app.vigil.store, 'default', { release })
        return rows.filter((r) => r.kind === 'flow').length >= flows ? rows : undefined
      })

    // Replaced after the agent loaded: the page gets its own exception; the agent still sends (the
    // fetch it kept), through a lost answer (503) it retries — and reports none of that as the app's.
    app.failAfterForwarding(1, 'replaced-1')
    await p.goto(`${app.origin}/replaced-after?r=replaced-1`)
    expect(await p.title()).toBe('this page has no fetch')
    await p.evaluate(() => (window as unknown as { vigil: { flush: () => void } }).vigil.flush())
    const after = await rowsOf('replaced-1', 1)
    expect(app.ingest.filter((i) => i.body.includes('replaced-1')).map((i) => i.status)).toContain(503)
    expect(after.filter((r) => r.kind === 'request')).toEqual([])

    // Replaced before: the agent wraps the page's fetch, which throws to the page as it did.
    await p.goto(`${app.origin}/replaced-before?r=replaced-2`)
    expect(await p.title()).toBe('this page has no fetch')

    await p.goto(`${app.origin}/resolves-nothing?r=nothing-1`)
    await p.waitForFunction(() => document.title.startsWith('got') || document.title.startsWith('rejected'))
    expect(await p.title()).toBe('got undefined')

    // Requests off: nothing of them, the rest as ever.
    await p.goto(`${app.origin}/off?r=off-1`)
    expect(await p.evaluate(() => (window as unknown as { done: Promise<unknown[]> }).done)).toEqual([404, 503, 200, 200])
    await p.goto(`${app.origin}/blank`)
    expect((await rowsOf('off-1', 1)).filter((r) => r.kind === 'request')).toEqual([])

    // The app's options: its 404 is no failure, the API's origin is left out.
    await p.goto(`${app.origin}/options?r=options-1`)
    await p.evaluate(() => (window as unknown as { done: Promise<unknown[]> }).done)
    await p.goto(`${app.origin}/blank`)
    const options = await waitFor('the requests of options-1', async () => {
      const rows = (await storedEvents(collector.app.vigil.store, 'default', { release: 'options-1' })).filter((r) => r.kind === 'request')
      return rows.length >= 3 ? rows : undefined
    })
    expect(options.map((r) => [r.name, r.outcome, r.reason]).sort()).toEqual([
      ['GET /api/boom', 'fail', '503'],
      ['GET /api/missing', 'ok', ''],
      ['GET /api/plans/:id', 'ok', ''],
    ])
    expect(pageErrors).toEqual([])
    await context.close()
  })
})
