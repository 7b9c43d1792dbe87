/**
 * Feature flags as cohorts, in real Chromium against a real collector: one release, its sessions
 * split by `vigil.flag('new-auth', …)`; login fails in 25% of the sessions with new-auth=on and in
 * 2% of those with new-auth=off. On-call is paged naming the flag and variant, the other variant
 * and an unrelated flag are not blamed, the verdict API answers for the variant, and the release
 * page shows the cohorts. And who is affected: a release failing in one browser names it.
 */
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { html, startAppServer } from '../helpers/appServer.js'
import { launchChromium } from '../helpers/browser.js'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'
import { startReceiver } from '../helpers/receiver.js'
import { waitFor } from '../helpers/waitFor.js'

const KEY = 'vgl_flags_e2e_key'
const SESSIONS = 200

describe('feature-flag cohorts in Chromium', () => {
  const dir = tempDir()
  let collector: Running
  let receiver: Awaited<ReturnType<typeof startReceiver>>
  let app: Awaited<ReturnType<typeof startAppServer>>
  let browser: Browser

  // The app: session i gets new-auth=on when i is even; its login fails in a quarter of those
  // (i % 8 == 0) and in 2 of 100 of the others. The theme flag splits sessions another way.
  const appCode = `
const i = Number(new URLSearchParams(location.search).get('i'))
const on = i % 2 === 0
vigil.flag('new-auth', on ? 'on' : 'off')
vigil.flag('theme', i % 3 ? 'light' : 'dark')
const login = vigil.flow('login')
if (on ? i % 8 === 0 : i % 100 === 1) login.fail('401')
else login.ok()`

  beforeAll(async () => {
    receiver = await startReceiver()
    collector = await startCollector({ dataDir: dir.path, projectKey: KEY, webhookUrl: receiver.url, evalIntervalMs: 1000 })
    app = await startAppServer(collector.url, {
      // A login that fails in Firefox on ua-1.1.0; the page flushes once it ended.
      '/ua': (q) => {
        const page = html({
          key: KEY,
          release: q.get('r') ?? '',
          env: 'ua',
          attrs: 'data-vitals="false"',
          body: `<script>const l = vigil.flow('login'); ${q.get('r') === 'ua-1.1.0' ? "navigator.userAgent.includes('Firefox') ? l.fail('401') : l.ok()" : 'l.ok()'}; vigil.flush(); setTimeout(() => (window.sent = true), 50)</script>`,
        })
        return { body: page.body.replace('<script src="/vigil.js"', `<script>localStorage.removeItem('vigil.s')</script><script src="/vigil.js"`) }
      },
      '/p': () => {
        const page = html({ key: KEY, release: '2.0.0', env: 'production', attrs: 'data-vitals="false"', body: `<script>${appCode}</script>` })
        return { body: page.body.replace('<script src="/vigil.js"', `<script>localStorage.removeItem('vigil.s')</script><script src="/vigil.js"`) }
      },
    })
    browser = await launchChromium()
  })

  afterAll(async () => {
    await browser?.close()
    await app?.close()
    await collector?.close()
    await receiver?.close()
    dir.remove()
  })

  it('pages naming the flag and variant whose logins fail, not the other variant; the verdict and the page show the cohort', async () => {
    // Two tabs; each visit a new session (the page forgets the agent's session before the agent
    // loads), the last one's batch sent as it goes.
    const contexts = await Promise.all(
      [0, 1].map(async (t) => {
        const context = await browser.newContext()
        const p = await context.newPage()
        for (let i = t; i < SESSIONS; i += 2) {
          await p.goto(`${app.origin}/p?i=${i}`, { waitUntil: 'domcontentloaded' })
        }
        return context
      }),
    )
    type Alert = { data: { status: string; rule: string; subject: string; release: string; flag?: string; variant?: string; summary: string } }
    const firing = () => receiver.received.map((r) => (r.json as Alert).data).filter((d) => d.status === 'firing')
    const alert = await waitFor('the cohort alert', () => firing().find((d) => d.flag === 'new-auth'), 30_000)
    expect(alert).toMatchObject({ rule: 'flow_failure', subject: 'login', release: '2.0.0', variant: 'on' })
    expect(alert.summary).toMatch(/^login failed in 2\d\.\d% of sessions on 2\.0\.0 with new-auth=on \(\d+\/\d+\) against \d\.\d% with new-auth=off \(concurrent, \d+\/\d+\)/)

    const verdict = async (variant: string) =>
      ((await (await fetch(`${collector.url}/v1/releases/2.0.0/verdict?env=production&flag=new-auth&variant=${variant}`)).json()) as { verdict: string }).verdict
    expect(await verdict('on')).toBe('bad')
    expect(await verdict('off')).not.toBe('bad')

    // The release page shows the cohorts: each variant with its verdict and login failure rate.
    const page = await (await browser.newContext()).newPage()
    await page.goto(`${collector.url}/releases/2.0.0?project=default&env=production&range=1h`)
    const row = (v: string) => page.locator(`table.cohorts[data-flag="new-auth"] tr[data-variant="${v}"]`)
    await row('on').locator('.badge[data-verdict="bad"]').waitFor()
    expect(await row('on').locator('td[data-flow="login"]').textContent()).toMatch(/^2\d\.\d% \(\d+\/\d+\)$/)
    expect(await row('off').locator('.badge').getAttribute('data-verdict')).not.toBe('bad')
    expect(await page.locator('table.cohorts[data-flag="theme"] tr[data-variant]').count()).toBe(2)
    // Nothing else fired meanwhile: not the other variant, not the theme, not the release (it has no baseline of its own).
    expect(firing().map((d) => `${d.rule} ${d.subject} ${d.flag}=${d.variant}`)).toEqual(['flow_failure login new-auth=on'])
    await Promise.all(contexts.map((c) => c.close()))
  })

  it('says who is affected: a release whose login fails in one browser only (its user agent set per context) names that browser', async () => {
    // Firefox on Windows, as the Chrome contexts: only the browser sets its sessions apart (a Linux
    // Firefox tied with "os Linux", and HeadlessChrome's own user agent, on a batch sent late, is Linux too).
    const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0'
    const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
    // Three contexts, one of them Firefox: on ua-1.1.0 its logins fail. Each page flushes once its
    // login ended, so its first batch goes with the page's user agent (a keepalive request the
    // browser sends after the page went carries the browser's own).
    const visits = async (release: string, n: number) =>
      Promise.all(
        [FIREFOX, CHROME, CHROME].map(async (userAgent) => {
          const context = await browser.newContext({ userAgent })
          const p = await context.newPage()
          for (let i = 0; i < n; i++) {
            await p.goto(`${app.origin}/ua?r=${release}`, { waitUntil: 'domcontentloaded' })
            await p.waitForFunction(() => (window as unknown as { sent?: boolean }).sent)
          }
          return context
        }),
      )
    const before = await visits('ua-1.0.0', 16)
    const after = await visits('ua-1.1.0', 16)
    type Data = { release: string; summary: string; affected: { segments: { dimension: string; value: string; failed_share: number; session_share: number }[] } }
    const alert = await waitFor('the ua-1.1.0 alert', () => receiver.received.map((r) => (r.json as { data: Data }).data).find((d) => d.release === 'ua-1.1.0'), 30_000).catch(async (e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify(await (await fetch(`${collector.url}/v1/releases/ua-1.1.0/verdict?env=ua`)).json())}`)
    })
    expect(alert.affected.segments[0]).toMatchObject({ dimension: 'browser', value: 'Firefox 133', failed_share: 1 })
    // A third of the sessions (of those the alert had, which may be fewer than all).
    expect(alert.affected.segments[0]!.session_share).toBeGreaterThan(0.2)
    expect(alert.affected.segments[0]!.session_share).toBeLessThan(0.5)
    expect(alert.summary).toMatch(/; mostly browser Firefox 133 \(100\.0% of failed sessions, \d\d\.\d% of all\)$/)
    await Promise.all([...before, ...after].map((c) => c.close()))
  })
})
