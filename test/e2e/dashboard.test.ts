/**
 * The health page in real Chromium against a real collector whose store is seeded with releases
 * whose numbers are known: the page shows the store's numbers (checked against the seed and
 * against the raw events), an alert the detector fires appears on the open page without a
 * reload, agents' strings render as text, and with VIGIL_ADMIN_TOKEN the page and its APIs
 * refuse without it. Screenshots of both views go to test-output/screenshots/.
 */
import { mkdirSync, readFileSync } from 'node:fs'
import { get, type IncomingHttpHeaders } from 'node:http'
import { join } from 'node:path'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FlowSeries as Series } from '../../collector/src/releaseNumbers.js'
import type { EventRow } from '../../collector/src/store/index.js'
import { launchChromium } from '../helpers/browser.js'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'
import { eventRow } from '../helpers/eventRow.js'
import { startReceiver } from '../helpers/receiver.js'
import { waitFor } from '../helpers/waitFor.js'
import { insertEvents, runSql } from '../helpers/storeQueries.js'

const SHOTS = join(process.cwd(), 'test-output', 'screenshots')
const XSS_RELEASE = '<img src=x onerror=window.__xss=1>'
const XSS_MESSAGE = '<img src=x onerror=window.__xss=2> is not a function'
const MIN = 60_000

/** Events of one session: a session start, then the given flows and errors, one minute apart from `at`. */
const sessionRows = (
  release: string,
  session: string,
  at: number,
  opts: { flows?: [name: string, ok: boolean][]; crash?: { type: string; message: string; fingerprint: string }; lcp?: number } = {},
): EventRow[] => {
  const base = { release, session, url: 'https://app.example/login', route: '/login', browser: 'Chrome', os: 'Linux', device: 'desktop' }
  const row = (r: Partial<EventRow> & Pick<EventRow, 'kind' | 'ts'>) => eventRow({ ...base, ...r })
  const rows: EventRow[] = [row({ kind: 'session', ts: at, outcome: 'start' })]
  for (const [name, ok] of opts.flows ?? []) rows.push(row({ kind: 'flow', ts: at + 1000, name, outcome: ok ? 'ok' : 'fail', reason: ok ? '' : '401 from /api/session' }))
  if (opts.crash) {
    rows.push(
      row({
        kind: 'error', ts: at + 2000, name: opts.crash.type, message: opts.crash.message, fingerprint: opts.crash.fingerprint,
        stack: `${opts.crash.type}: ${opts.crash.message}\n    at renderPlans (https://app.example/app.js:12:7)\n    at onload (https://app.example/app.js:40:3)`,
      }),
    )
  }
  if (opts.lcp !== undefined) rows.push(row({ kind: 'vital', ts: at + 3000, name: 'LCP', value: opts.lcp }))
  return rows
}

/**
 * Three releases, 100 sessions in the last hour:
 * - 1.0.0 (first, 50 min ago): 60 sessions, login failed in 3, download (20 sessions) failed in 1, 2 crashed;
 * - 1.1.0 (20 min ago): 30 sessions, login failed in 9, download (10) in none, 6 crashed on a new error;
 * - XSS_RELEASE (10 min ago): 10 sessions, all logins fine.
 */
const seed = (now: number): EventRow[] => {
  const rows: EventRow[] = []
  for (let i = 0; i < 60; i++) {
    rows.push(
      ...sessionRows('1.0.0', `old-${i}`, now - 50 * MIN + i * 45_000, {
        flows: [['login', i >= 3], ...(i < 20 ? ([['download', i !== 7]] as [string, boolean][]) : [])],
        ...(i === 10 || i === 40 ? { crash: { type: 'RangeError', message: 'Invalid array length', fingerprint: 'fp-old' } } : {}),
        lcp: 1000 + i * 10,
      }),
    )
  }
  for (let i = 0; i < 30; i++) {
    rows.push(
      ...sessionRows('1.1.0', `new-${i}`, now - 20 * MIN + i * 30_000, {
        flows: [['login', i % 10 >= 3], ...(i < 10 ? ([['download', true]] as [string, boolean][]) : [])],
        ...(i % 5 === 0 ? { crash: { type: 'TypeError', message: XSS_MESSAGE, fingerprint: 'fp-new' } } : {}),
      }),
    )
  }
  for (let i = 0; i < 10; i++) rows.push(...sessionRows(XSS_RELEASE, `x-${i}`, now - 10 * MIN + i * 30_000, { flows: [['login', true]] }))
  // Staging: one release tried half an hour ago.
  for (let i = 0; i < 4; i++) rows.push(...sessionRows('2.0.0-rc.1', `st-${i}`, now - 30 * MIN + i * 1000, { flows: [['login', true]] }).map((r) => ({ ...r, env: 'staging' })))
  return rows
}

// Baselines are concurrent: the older releases' sessions since the release appeared, over at least
// the last 30 minutes (as the detector takes them, baseline.ts). For 1.1.0 (20 min ago) and the
// newest (10 min ago) both, that is the last 30 minutes: 1.0.0's last 33 sessions (none failed
// login; none ran download), and for the newest 1.1.0's 30 too (9 failed login): 9 of 63.
const EXPECTED = {
  '1.0.0': { adoption: '60.0%', sessions: '60', crash_free: '96.7%', login: ['5.0%', '—', '—'], download: ['5.0%', '—', '—'] },
  '1.1.0': { adoption: '30.0%', sessions: '30', crash_free: '80.0%', login: ['30.0%', '0.0%', '+30.0 pt'], download: ['0.0%', '—', '—'] },
  [XSS_RELEASE]: { adoption: '10.0%', sessions: '10', crash_free: '100.0%', login: ['0.0%', '14.3%', '−14.3 pt'], download: null },
} as const

/** A GET whose body is left as it came (fetch would decode it). */
const rawGet = (url: string, headers: Record<string, string>) =>
  new Promise<{ headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) =>
    get(url, { headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }))
    }).on('error', reject),
  )

const pct = (x: number) => `${(x * 100).toFixed(1)}%`

/** What the releases table shows, per release: the cells tests read by their data attributes. */
const readTable = (page: Page) =>
  page.$$eval('#releases tbody tr', (trs) =>
    trs.map((tr) => {
      const cell = (sel: string) => tr.querySelector(sel)?.textContent ?? null
      const flow = (f: string) => (tr.querySelector(`td[data-flow="${f}"]`) ? ['failure_rate', 'baseline', 'difference'].map((m) => cell(`td[data-flow="${f}"] [data-metric="${m}"]`)) : null)
      return {
        release: (tr as HTMLElement).dataset.release ?? '',
        name: cell('td a'),
        verdict: cell('.badge'),
        adoption: cell('[data-metric="adoption"]'),
        sessions: cell('[data-metric="sessions"]'),
        crash_free: cell('[data-metric="crash_free"]'),
        login: flow('login'),
        download: flow('download'),
        lcp: cell('td[data-vital="LCP"]'),
      }
    }),
  )

describe('the health dashboard in Chromium', () => {
  const dir = tempDir()
  let c: Running
  let browser: Browser
  let receiver: Awaited<ReturnType<typeof startReceiver>>
  const problems: string[] = []
  /**
   * Takes out of `problems` those a test caused on purpose (a 404 it asked for, the reconnects
   * while the collector restarts) and says how many: whatever else a page logged stays.
   */
  const caused = (pattern: RegExp) => {
    const mine = problems.filter((p) => pattern.test(p))
    for (const p of mine) problems.splice(problems.indexOf(p), 1)
    return mine.length
  }
  // Looks are taken by the test, so the verdicts change only when it says.
  const config = () => ({ dataDir: dir.path, evalIntervalMs: 3_600_000, webhookUrl: receiver.url })
  // Recovery is judged on the last 2 s (10 min in production), so a test can watch it.
  const options = { detector: { minFiringMs: 0, recoveryMs: 2000 }, outbox: { pollMs: 100 } }

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true })
    receiver = await startReceiver()
    c = await startCollector(config(), options)
    await insertEvents(c.app.vigil.store, seed(Date.now()))
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
    await c?.close()
    await receiver?.close()
    dir.remove()
  })

  const open = async (path: string) => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    // A CSP violation, a failed script or a thrown error shows here (Chromium logs a 404 answer as an error, with what it asked for).
    page.on('console', (m) => m.type() === 'error' && problems.push(`${path}: ${m.text()} (${m.location().url})`))
    page.on('pageerror', (e) => problems.push(`${path}: ${e.message}`))
    await page.goto(`${c.url}${path}`)
    return page
  }

  it('shows each release with the numbers the store holds', async () => {
    const page = await open('/')
    await page.waitForSelector('#releases tbody tr')
    const rows = await readTable(page)
    // Newest first.
    expect(rows.map((r) => r.release)).toEqual([XSS_RELEASE, '1.1.0', '1.0.0'])
    for (const r of rows) {
      const want = EXPECTED[r.release as keyof typeof EXPECTED]
      expect(r, r.release).toMatchObject({ adoption: want.adoption, sessions: want.sessions, crash_free: want.crash_free, login: want.login, download: want.download })
    }
    // p75 of 1000, 1010, … 1590 ms: 1442.5 ms.
    expect(rows[2]!.lcp).toBe('1.44 s')

    // The same numbers counted straight from the raw events (not through the rollups the page reads).
    const raw = await runSql<{ release: string; sessions: number; crashed: number; login: number; login_failed: number }>(
      c.app.vigil.store,
      `SELECT release, uniqExact(session) AS sessions,
        uniqExactIf(session, kind = 'error' AND handled = 0) AS crashed,
        uniqExactIf(session, kind = 'flow' AND name = 'login') AS login,
        uniqExactIf(session, kind = 'flow' AND name = 'login' AND outcome != 'ok') AS login_failed
      FROM events WHERE project = 'default' AND env = 'production' GROUP BY release`,
    )
    const total = raw.reduce((n, r) => n + r.sessions, 0)
    for (const r of raw) {
      const shown = rows.find((x) => x.release === r.release)!
      expect(shown.adoption, r.release).toBe(pct(r.sessions / total))
      expect(shown.crash_free, r.release).toBe(pct(1 - r.crashed / r.sessions))
      expect(shown.login?.[0], r.release).toBe(pct(r.login_failed / r.login))
    }
    // And the API the page reads says the same.
    const api = (await (await fetch(`${c.url}/v1/overview`)).json()) as { releases: { release: string; adoption: number; crash_free_sessions: number }[] }
    for (const r of api.releases) expect(rows.find((x) => x.release === r.release)?.adoption).toBe(pct(r.adoption))
    await page.close()
  })

  it('renders release names and error messages as text, executing nothing', async () => {
    const page = await open('/')
    await page.waitForSelector('#releases tbody tr')
    expect(await page.textContent(`#releases tbody tr:first-child td a`)).toBe(XSS_RELEASE)
    const detail = await open(`/releases/${encodeURIComponent(XSS_RELEASE)}`)
    await detail.waitForSelector('#release-name')
    expect(await detail.textContent('#release-name')).toBe(XSS_RELEASE)
    const bad = await open('/releases/1.1.0')
    await bad.waitForSelector('.error-group')
    expect(await bad.textContent('.error-group[data-fingerprint="fp-new"] .emessage')).toBe(XSS_MESSAGE)
    await bad.click('.error-group[data-fingerprint="fp-new"] summary')
    expect(await bad.textContent('.error-group[data-fingerprint="fp-new"] .stack')).toContain(`TypeError: ${XSS_MESSAGE}\n    at renderPlans`)
    for (const p of [page, detail, bad]) {
      expect(await p.evaluate(() => (window as { __xss?: number }).__xss)).toBeUndefined()
      expect(await p.$$eval('main img', (imgs) => imgs.length)).toBe(0)
    }
    await Promise.all([page.close(), detail.close(), bad.close()])
  })

  it('shows one release: its flows against the baseline per minute, its error groups, new ones marked', async () => {
    const page = await open('/releases/1.1.0')
    await page.waitForSelector('.flow[data-flow="login"] canvas')
    const stat = (m: string) => page.textContent(`.stats [data-metric="${m}"]`)
    expect(await stat('sessions')).toBe('30')
    expect(await stat('adoption')).toBe('30.0%')
    expect(await stat('crash_free')).toBe('80.0%')
    const flow = (f: string, m: string) => page.textContent(`.flow[data-flow="${f}"] [data-metric="${m}"]`)
    expect([await flow('login', 'failure_rate'), await flow('login', 'baseline'), await flow('login', 'difference')]).toEqual(['30.0%', '0.0%', '+30.0 pt'])
    expect(await page.$$eval('.flow', (cards) => cards.map((x) => (x as HTMLElement).dataset.flow))).toEqual(['download', 'login'])
    // The chart's data, per minute: this release's failed sessions and sessions, and the
    // baseline's (the older release), as counted straight from the raw events.
    const api = (await (await fetch(`${c.url}/v1/releases/1.1.0`)).json()) as { step_s: number; series: Series[] }
    expect(api.step_s).toBe(60)
    const login = api.series.find((x) => x.flow === 'login')!
    const perMinute = await runSql<{ t: number; release: string; sessions: number; failed: number }>(
      c.app.vigil.store,
      `SELECT toUnixTimestamp(toStartOfMinute(ts)) AS t, release, uniqExact(session) AS sessions, uniqExactIf(session, outcome != 'ok') AS failed
      FROM events WHERE project = 'default' AND kind = 'flow' AND name = 'login' AND release IN ('1.0.0', '1.1.0')
      GROUP BY t, release`,
    )
    const shown = (release: string) =>
      login.t.flatMap((t, i) => {
        const [n, failed] = release === '1.1.0' ? [login.sessions[i]!, login.failed[i]!] : [login.baseline_sessions[i]!, login.baseline_failed[i]!]
        return n ? [{ t, release, sessions: n, failed }] : []
      })
    const inChart = (r: { t: number }) => r.t >= login.t[0]! && r.t <= login.t.at(-1)!
    const byTime = (a: { t: number }, b: { t: number }) => a.t - b.t
    for (const release of ['1.1.0', '1.0.0']) {
      expect(shown(release), release).toEqual(perMinute.filter((r) => r.release === release && inChart(r)).sort(byTime))
    }
    expect(shown('1.0.0').length).toBeGreaterThan(5)
    login.t.forEach((_, i) => {
      expect(login.rate[i]).toBe(login.sessions[i] ? login.failed[i]! / login.sessions[i]! : null)
      expect(login.baseline[i]).toBe(login.baseline_sessions[i] ? login.baseline_failed[i]! / login.baseline_sessions[i]! : null)
    })
    const groups = await page.$$eval('.error-group', (gs) =>
      gs.map((g) => ({ fp: (g as HTMLElement).dataset.fingerprint, isNew: !!g.querySelector('.tag.new'), counts: g.querySelector('.counts')?.textContent ?? '' })),
    )
    expect(groups).toEqual([{ fp: 'fp-new', isNew: true, counts: expect.stringMatching(/^6 sessions · 6 events/) as unknown as string }])
    await page.screenshot({ path: join(SHOTS, 'release-1.1.0-before-alert.png'), fullPage: true })
    await page.close()
  })

  it('shows an alert the detector fires on the open page within seconds, without a reload', async () => {
    const list = await open('/')
    const detail = await open('/releases/1.1.0')
    await list.waitForSelector('#releases tbody tr')
    await detail.waitForSelector('#release-view')
    for (const p of [list, detail]) await p.evaluate(() => ((window as { __loaded?: string }).__loaded = 'first load'))
    expect(await list.$('#firing')).toBeNull()

    // The rollout goes on: 40 more sessions on 1.1.0, 30 of them fail to log in.
    const now = Date.now()
    const more: EventRow[] = []
    for (let i = 0; i < 40; i++) more.push(...sessionRows('1.1.0', `more-${i}`, now - 5 * MIN + i * 5000, { flows: [['login', i % 4 === 3]] }))
    await insertEvents(c.app.vigil.store, more)
    const started = Date.now()
    await c.app.vigil.detector.evaluate()

    const banner = await waitFor('the alert on the open releases page', async () => (await list.textContent('#firing').catch(() => null)) ?? undefined, 15_000)
    const seenAfter = Date.now() - started
    expect(banner).toContain('1.1.0 is bad')
    expect(banner).toContain('login failed')
    expect(await list.textContent('#releases tr[data-release="1.1.0"] .badge')).toBe('bad')
    expect(await list.getAttribute('#releases tr[data-release="1.1.0"]', 'class')).toBe('bad')
    // The alert's timeline on the release page: fired, then the webhook's delivery.
    await waitFor('the delivery on the release page', async () => ((await detail.textContent('.timeline')) ?? '').includes('webhook') || undefined, 15_000)
    const timeline = await detail.$$eval('.timeline li', (lis) => lis.map((li) => `${li.className}: ${li.textContent}`))
    expect(timeline.some((t) => t.startsWith('fired') && t.includes('login failed'))).toBe(true)
    expect(timeline.some((t) => t.startsWith('delivery delivered') && t.includes('webhook'))).toBe(true)
    expect(await detail.textContent('#release-view h2 .badge')).toBe('bad')
    expect(await detail.textContent('.stats [data-metric="sessions"]')).toBe('70')
    for (const p of [list, detail]) expect(await p.evaluate(() => (window as { __loaded?: string }).__loaded)).toBe('first load')
    console.log(`dashboard: the alert showed on the open page ${seenAfter} ms after the detector's look began`)

    await list.screenshot({ path: join(SHOTS, 'releases-with-alert.png'), fullPage: true })
    await detail.screenshot({ path: join(SHOTS, 'release-1.1.0-with-alert.png'), fullPage: true })
    await Promise.all([list.close(), detail.close()])
  })

  it('takes the alert off the open pages by itself when the release recovers (the rollback takes effect)', async () => {
    const list = await open('/')
    const detail = await open('/releases/1.1.0')
    await list.waitForSelector('#firing')
    await detail.waitForSelector('#release-view')
    expect(await detail.textContent('#bad-since')).toMatch(/^bad since /)
    for (const p of [list, detail]) await p.evaluate(() => ((window as { __loaded?: string }).__loaded = 'first load'))

    // The fix is out: 60 sessions on 1.1.0 in the last second, every login fine.
    const rows: EventRow[] = []
    for (let i = 0; i < 60; i++) rows.push(...sessionRows('1.1.0', `fixed-${i}`, Date.now() - 1500 + i * 10, { flows: [['login', true]] }))
    await insertEvents(c.app.vigil.store, rows)
    await c.app.vigil.detector.evaluate()

    await waitFor('the banner to go', async () => (await list.$('#firing')) === null || undefined, 15_000)
    expect(await list.textContent('#releases tr[data-release="1.1.0"] .badge')).not.toBe('bad')
    await waitFor('the resolution on the release page', async () => (await detail.$$eval('.timeline li.resolved', (x) => x.length)) > 0 || undefined, 15_000)
    expect(await detail.$('#bad-since')).toBeNull()
    for (const p of [list, detail]) expect(await p.evaluate(() => (window as { __loaded?: string }).__loaded)).toBe('first load')
    await detail.screenshot({ path: join(SHOTS, 'release-1.1.0-resolved.png'), fullPage: true })
    await Promise.all([list.close(), detail.close()])
  })

  it('reconnects to the live feed by itself when the collector restarts, and goes on updating', async () => {
    const list = await open('/')
    await list.waitForSelector('#releases tbody tr')
    await list.evaluate(() => ((window as { __loaded?: string }).__loaded = 'first load'))
    const port = new URL(c.url).port
    await c.close()
    await waitFor('the page to notice', async () => (await list.getAttribute('#status', 'class')) !== 'live')
    c = await startCollector({ ...config(), port: Number(port) }, options)
    await waitFor('the page to be live again', async () => (await list.getAttribute('#status', 'class')) === 'live', 20_000)
    caused(/^\/: (WebSocket connection to '[^']*\/v1\/live' failed|Failed to load resource: net::ERR_CONNECTION_REFUSED)/)

    // A release that appears after the restart shows on the same page.
    const rows: EventRow[] = []
    for (let i = 0; i < 5; i++) rows.push(...sessionRows('1.2.0', `later-${i}`, Date.now() - 1000, { flows: [['login', true]] }))
    await insertEvents(c.app.vigil.store, rows)
    await c.app.vigil.detector.evaluate()
    await list.waitForSelector('#releases tr[data-release="1.2.0"]', { timeout: 15_000 })
    expect(await list.evaluate(() => (window as { __loaded?: string }).__loaded)).toBe('first load')
    await list.close()
  })

  it('switches environment and range from the selectors, keeping them in the address', async () => {
    const page = await open('/')
    await page.waitForSelector('#releases tbody tr')
    expect(await page.$$eval('#env option', (os) => os.map((o) => (o as HTMLOptionElement).value))).toEqual(['production', 'staging'])
    await page.selectOption('#env', 'staging')
    await page.waitForSelector('#releases tr[data-release="2.0.0-rc.1"]')
    expect(await page.$$eval('#releases tbody tr', (trs) => trs.map((tr) => (tr as HTMLElement).dataset.release))).toEqual(['2.0.0-rc.1'])
    expect(new URL(page.url()).searchParams.get('env')).toBe('staging')
    // It ran half an hour ago: not in the last 15 minutes.
    await page.click('.ranges button[data-range="15m"]')
    await page.waitForSelector('#empty')
    expect(new URL(page.url()).searchParams.get('range')).toBe('15m')
    // The address opens the same view.
    await page.reload()
    await page.waitForSelector('#empty')
    expect(await page.$eval('#env', (x) => (x as HTMLSelectElement).value)).toBe('staging')
    expect(await page.textContent('.ranges button.on')).toBe('15m')
    await page.close()
  })

  it('serves its files and answers compressed, and whole', async () => {
    const bundle = readFileSync(join(process.cwd(), 'dist', 'dashboard', 'app.js'))
    for (const encoding of ['br', 'gzip']) {
      const res = await rawGet(`${c.url}/ui/app.js`, { 'accept-encoding': encoding })
      expect(res.headers['content-encoding'], encoding).toBe(encoding)
      const packed = res.body
      expect(packed.length).toBeLessThan(bundle.length / 2)
      expect((encoding === 'br' ? brotliDecompressSync(packed) : gunzipSync(packed)).equals(bundle), encoding).toBe(true)
    }
    const api = await rawGet(`${c.url}/v1/releases/1.1.0`, { 'accept-encoding': 'gzip' })
    expect(api.headers['content-encoding']).toBe('gzip')
    const plain = (await (await fetch(`${c.url}/v1/releases/1.1.0`)).json()) as { sessions: number; flows: unknown[] }
    expect(JSON.parse(gunzipSync(api.body).toString('utf8'))).toMatchObject({ release: '1.1.0', sessions: plain.sessions, flows: plain.flows })
  })

  it('follows every look for short ranges, and looks at most every 30 s for a week', async () => {
    const reads = async (range: string) => {
      const page = await open(`/?range=${range}`)
      await page.waitForSelector('#releases tbody tr')
      let n = 0
      page.on('request', (r) => r.url().includes('/v1/overview') && n++)
      for (let i = 0; i < 3; i++) {
        await c.app.vigil.detector.evaluate()
        await page.waitForTimeout(300)
      }
      await page.waitForTimeout(1000)
      await page.close()
      return n
    }
    expect(await reads('1h')).toBeGreaterThanOrEqual(3)
    // The look sent when the page connects may count; the three after it may not.
    expect(await reads('7d')).toBeLessThanOrEqual(1)
  })

  it('answers a bad range or an unknown release with a coded 4xx', async () => {
    const range = await fetch(`${c.url}/v1/overview?range=2y`)
    expect(range.status).toBe(400)
    expect(await range.json()).toMatchObject({ code: expect.stringMatching(/^VIGIL_|^FST_/) as unknown as string })
    const missing = await fetch(`${c.url}/v1/releases/9.9.9`)
    expect(missing.status).toBe(404)
    expect(await missing.json()).toMatchObject({ code: 'VIGIL_NOT_FOUND' })
    const page = await open('/releases/9.9.9')
    expect(await (await page.waitForSelector('#not-found')).textContent()).toContain('No release 9.9.9 has reported')
    expect(caused(/^\/releases\/9\.9\.9: Failed to load resource: .*status of 404 .*\/v1\/releases\/9\.9\.9\?/)).toBeGreaterThan(0)
    await page.close()
  })

  it('printed no console error and broke no Content-Security-Policy rule', () => {
    expect(problems).toEqual([])
  })
})

describe('the health dashboard with VIGIL_ADMIN_TOKEN', () => {
  const TOKEN = 'dashboard-admin-token-0123'
  const dir = tempDir()
  let c: Running
  let browser: Browser
  beforeAll(async () => {
    c = await startCollector({ dataDir: dir.path, adminToken: TOKEN, evalIntervalMs: 3_600_000 })
    await insertEvents(c.app.vigil.store, seed(Date.now()))
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
    await c?.close()
    dir.remove()
  })

  it('sends the page to the login form without the token, and back to the release after logging in', async () => {
    // The read APIs and the live feed refuse without it too: test/integration/access.test.ts.
    const page = await browser.newPage()
    await page.goto(`${c.url}/releases/1.1.0?env=production`)
    expect(new URL(page.url()).pathname).toBe('/login')
    expect(await page.$('#releases, #release-view')).toBeNull()
    await page.fill('input[name="token"]', 'not the token')
    await page.click('button[type="submit"]')
    expect(await page.textContent('.error')).toContain('not the admin token')
    await page.fill('input[name="token"]', TOKEN)
    await page.click('button[type="submit"]')
    await page.waitForSelector('#release-view')
    expect(new URL(page.url()).pathname).toBe('/releases/1.1.0')
    expect(await page.textContent('.stats [data-metric="crash_free"]')).toBe('80.0%')
    await page.close()
  })
})
