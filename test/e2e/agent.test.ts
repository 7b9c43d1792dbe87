/**
 * The agent in real Chromium against a real collector: what each behaviour sends is read back
 * from ClickHouse. Each test uses its own release name, so tests do not see each other's events.
 */
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EventRow } from '../../collector/src/store/index.js'
import { startAppServer, html } from '../helpers/appServer.js'
import { launchChromium } from '../helpers/browser.js'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'
import { waitFor } from '../helpers/waitFor.js'
import { countEvents, storedEvents } from '../helpers/storeQueries.js'

const KEY = 'vgl_agent_e2e_key'

describe('agent in Chromium', () => {
  const dir = tempDir()
  let collector: Running
  let app: Awaited<ReturnType<typeof startAppServer>>
  let other: Awaited<ReturnType<typeof startAppServer>>
  let browser: Browser

  /** A page with the tag and the test's app code (/app.js?r=<release>). */
  const appPage = (q: URLSearchParams, more: Partial<Parameters<typeof html>[0]> = {}) =>
    html({ key: KEY, release: q.get('r') ?? '', head: `<script src="/app.js?r=${q.get('r')}"></script>`, ...more })

  beforeAll(async () => {
    collector = await startCollector({ dataDir: dir.path, projectKey: KEY })
    const pages = {
      '/p': (q: URLSearchParams) =>
        appPage(q, { attrs: `${q.has('sample') ? `data-sample="${q.get('sample')}"` : ''} ${q.has('endpoint') ? `data-endpoint="${q.get('endpoint')}"` : ''}` }),
      // The tag without data-key: the app starts the agent itself with init({...}).
      '/manual': (q: URLSearchParams) =>
        appPage(q, { tag: '<script src="/vigil.js"></script>' }),
      '/app.js': (q: URLSearchParams) => ({ body: appCode[q.get('r') ?? ''] ?? '', type: 'text/javascript' }),
      // A page with the strictest usual CSP: no inline script, requests only to its own origin.
      '/strict': (q: URLSearchParams) => ({
        ...appPage(q),
        headers: { 'content-security-policy': "default-src 'self'; script-src 'self'; connect-src 'self'; style-src 'self'" },
      }),
      // The documented stub, calls made before the agent loads, and the tag loaded late.
      '/stub': (q: URLSearchParams) =>
        html({
          key: KEY,
          release: q.get('r') ?? '',
          tag: `<script>window.vigil=window.vigil||function(){(vigil.q=vigil.q||[]).push(arguments)}</script>
<script>vigil('captureError', new Error('before the agent loaded')); vigil('track', 'boot', Promise.resolve())</script>`,
          body: `<script async src="/vigil.js" data-key="${KEY}" data-release="${q.get('r')}" data-env="test"></script>`,
        }),
      '/blank': { body: '<!doctype html><title>elsewhere</title><p>elsewhere</p>' },
    }
    app = await startAppServer(collector.url, pages)
    // Another origin serving a script without CORS headers: its errors reach the page as "Script error."
    other = await startAppServer(collector.url, {
      '/thrower.js': { body: 'setTimeout(function () { throw new Error("secret detail from another origin") })', type: 'text/javascript' },
    })
    browser = await launchChromium()
  })

  afterAll(async () => {
    await browser?.close()
    await app?.close()
    await other?.close()
    await collector?.close()
    dir.remove()
  })

  // The app code of each test, served as /app.js?r=<release> (external: the CSP page allows no inline script).
  const appCode: Record<string, string> = {}

  const open = async (release: string, code: string, path = '/p', more = ''): Promise<Page> => {
    appCode[release] = code
    const p = await (await browser.newContext()).newPage()
    await p.goto(`${app.origin}${path}?r=${encodeURIComponent(release)}${more}`)
    return p
  }

  const arrived = (release: string, check: (rows: EventRow[]) => boolean, what = `events of ${release}`) =>
    waitFor(what, async () => {
      const rows = await storedEvents(collector.app.vigil.store, 'default', { release })
      return check(rows) ? rows : undefined
    })

  const flush = (p: Page) => p.evaluate(() => (window as unknown as { vigil: { flush: () => void } }).vigil.flush())

  it('reports uncaught errors with their stacks, and handled ones as handled', async () => {
    const p = await open(
      'err-1',
      `function renderPlans(api) { return api.plans.map(function (p) { return p.name }) }
       setTimeout(function () { renderPlans({ plans: null }) })
       vigil.captureError(new RangeError('quota of 3 reached'))`,
    )
    await p.waitForTimeout(100)
    await flush(p)
    const rows = await arrived('err-1', (r) => r.filter((e) => e.kind === 'error').length === 2)
    const uncaught = rows.find((e) => e.name === 'TypeError')!
    expect(uncaught).toMatchObject({ kind: 'error', handled: 0, env: 'test' })
    expect(uncaught.message).toMatch(/Cannot read properties of null \(reading 'map'\)/)
    expect(uncaught.stack).toContain('renderPlans')
    expect(uncaught.stack).toContain('/app.js')
    expect(uncaught.fingerprint).toMatch(/^[0-9a-f]{16}$/)
    expect(rows.find((e) => e.name === 'RangeError')).toMatchObject({ handled: 1, message: 'quota of 3 reached' })
    // The unhandled error makes the session crashed; the agent says so when the page goes.
    await p.goto(`${app.origin}/blank`)
    const after = await arrived('err-1', (r) => r.some((e) => e.kind === 'session' && e.outcome === 'crashed'))
    expect(after.filter((e) => e.kind === 'session' && e.outcome === 'start')).toHaveLength(1)
  })

  it('reports an unhandled rejection with a string reason', async () => {
    // The third looks like an Error but its name is a number: it is sent (and stored) all the same.
    const p = await open('rej-1', `Promise.reject('storage quota exceeded'); Promise.reject({ code: 42 }); Promise.reject({ message: 'odd', name: 42 })`)
    await p.waitForTimeout(100)
    await flush(p)
    const rows = await arrived('rej-1', (r) => r.filter((e) => e.kind === 'error').length === 3)
    expect(rows.filter((e) => e.kind === 'error').map((e) => [e.name, e.message, e.handled]).sort()).toEqual([
      ['UnhandledRejection', 'odd', 0],
      ['UnhandledRejection', 'storage quota exceeded', 0],
      ['UnhandledRejection', '{"code":42}', 0],
    ])
  })

  it('reports flows that succeed, fail with a reason and last step, time out, or follow a promise', async () => {
    const p = await open(
      'flow-1',
      `vigil.flow('login').ok()
       var d = vigil.flow('download'); d.step('fetch-manifest'); d.step('chunk-3'); d.fail(new Error('HTTP 500 on chunk 3'))
       vigil.flow('sync', { timeoutMs: 300 })
       vigil.track('checkout', Promise.reject(new Error('card declined')))
       vigil.track('search', new Promise(function (r) { setTimeout(r, 50) }))
       var twice = vigil.flow('twice'); twice.ok(); twice.fail('too late')`,
    )
    await p.waitForTimeout(600)
    await flush(p)
    const rows = await arrived('flow-1', (r) => r.filter((e) => e.kind === 'flow').length === 6)
    const flows = Object.fromEntries(rows.filter((e) => e.kind === 'flow').map((e) => [e.name, e]))
    expect(flows.login).toMatchObject({ outcome: 'ok' })
    expect(flows.download).toMatchObject({ outcome: 'fail', reason: 'HTTP 500 on chunk 3', step: 'chunk-3' })
    expect(flows.sync).toMatchObject({ outcome: 'timeout' })
    expect(flows.sync!.value).toBeGreaterThanOrEqual(300)
    expect(flows.checkout).toMatchObject({ outcome: 'fail', reason: 'card declined' })
    expect(flows.search).toMatchObject({ outcome: 'ok' })
    expect(flows.twice).toMatchObject({ outcome: 'ok' }) // a flow ends once
  })

  it('sends a flow still open when the page navigates away as abandoned, with its last step', async () => {
    const p = await open('nav-1', `var d = vigil.flow('download'); d.step('chunk-7')`)
    await p.goto(`${app.origin}/blank`)
    const rows = await arrived('nav-1', (r) => r.some((e) => e.kind === 'flow'))
    expect(rows.filter((e) => e.kind === 'flow')).toMatchObject([{ name: 'download', outcome: 'abandoned', step: 'chunk-7' }])
    // Sent as the page went, once.
    expect(app.ingest.filter((i) => i.body.includes('"r":"nav-1"') && i.body.includes('"o":"abandoned"') && i.status === 202)).toHaveLength(1)
  })

  it('sends ordinary batches with fetch while the page stays', async () => {
    const p = await open('fetch-1', `vigil.flow('login').ok()`)
    await flush(p)
    await arrived('fetch-1', (r) => r.some((e) => e.kind === 'flow'))
    const sent = app.ingest.find((i) => i.body.includes('"r":"fetch-1"') && i.body.includes('"n":"login"'))!
    expect(sent.headers['sec-fetch-mode']).toBe('cors')
    expect(sent.headers['content-type']).toMatch(/^text\/plain/)
  })

  it('retries a batch whose answer was a 503, and the collector stores it once', async () => {
    app.failAfterForwarding(1, 'retry-1')
    const p = await open('retry-1', `vigil.flow('login').fail('401')`)
    await flush(p)
    await arrived('retry-1', () => app.ingest.filter((i) => i.body.includes('retry-1')).length >= 2, 'the retry')
    const tries = app.ingest.filter((i) => i.body.includes('retry-1'))
    expect(tries[0]!.status).toBe(503)
    expect(tries[1]!.status).toBe(202)
    const ids = tries.map((t) => (JSON.parse(t.body) as { id: string }).id)
    expect(ids[1]).toBe(ids[0]) // the same batch, by id
    expect(await countEvents(collector.app.vigil.store, 'default', { release: 'retry-1', kind: 'flow' })).toBe(1)
  })

  it('waits as long as Retry-After says before retrying', async () => {
    // 3 s: longer than the agent's own first backoff (at most 2 s), so only Retry-After explains it.
    app.failAfterForwarding(1, 'ra-1', 3)
    const p = await open('ra-1', `vigil.flow('login').ok()`)
    await flush(p)
    await arrived('ra-1', () => app.ingest.filter((i) => i.body.includes('ra-1')).length >= 2, 'the retry')
    const [first, second] = app.ingest.filter((i) => i.body.includes('ra-1'))
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(2900)
  })

  it('starts a new session after 30 minutes without activity, and caps errors per session', async () => {
    const p = await open('idle-1', `vigil.flow('view').ok(); for (var i = 0; i < 30; i++) vigil.captureError(new Error('distinct ' + location.search + i))`)
    await flush(p)
    await p.reload() // the same session: 30 more distinct errors, but 50 per session at most
    await flush(p)
    const sameSession = await arrived('idle-1', (r) => r.filter((e) => e.kind === 'flow').length === 2)
    await p.waitForTimeout(300)
    expect(new Set(sameSession.filter((e) => e.kind === 'flow').map((e) => e.session)).size).toBe(1)
    expect(await countEvents(collector.app.vigil.store, 'default', { release: 'idle-1', kind: 'error' })).toBe(50)
    // Leave the app, then make its last activity 31 minutes old, as if the user came back later.
    await p.goto(`${app.origin}/blank`)
    await p.evaluate(() => {
      const s = JSON.parse(localStorage.getItem('vigil.s')!) as { l: number }
      s.l -= 31 * 60_000
      localStorage.setItem('vigil.s', JSON.stringify(s))
    })
    await p.goto(`${app.origin}/p?r=idle-1`)
    await flush(p)
    const rows = await arrived('idle-1', (r) => r.filter((e) => e.kind === 'flow').length === 3)
    expect(new Set(rows.filter((e) => e.kind === 'flow').map((e) => e.session)).size).toBe(2)
    expect(rows.filter((e) => e.kind === 'session' && e.outcome === 'start')).toHaveLength(2)
  })

  it('never surfaces its own failures to the page', async () => {
    appCode['robust-1'] = `vigil.init({ key: '${KEY}', release: 'robust-1', endpoint: location.origin, beforeSend: function () { throw new Error('broken hook') } })`
    const context = await browser.newContext()
    const p = await context.newPage()
    const pageErrors: string[] = []
    const consoleLines: string[] = []
    p.on('pageerror', (e) => pageErrors.push(e.message))
    p.on('console', (m) => consoleLines.push(m.text()))
    // The page breaks what the agent relies on before it loads: storage throws, fetch throws,
    // beacons throw; and a beforeSend hook that throws.
    await p.addInitScript(() => {
      Storage.prototype.setItem = () => {
        throw new Error('QuotaExceededError')
      }
      window.fetch = () => {
        throw new TypeError('fetch is broken on this page')
      }
      navigator.sendBeacon = () => {
        throw new TypeError('beacons are broken too')
      }
    })
    await p.goto(`${app.origin}/manual?r=robust-1`)
    const seen = await p.evaluate(async () => {
      type Handle = { ok: () => void; fail: (r?: unknown) => void }
      type Api = ((...a: unknown[]) => unknown) & {
        captureError: (e: unknown) => void
        flow: (n: string, o?: unknown) => Handle
        track: (n: string, p: unknown) => unknown
        init: (o: unknown) => void
        flush: () => void
      }
      const w = window as unknown as { vigil: Api }
      let errors = 0
      window.addEventListener('error', () => errors++)
      window.addEventListener('unhandledrejection', () => errors++)
      const v = w.vigil
      const cyclic: Record<string, unknown> = {}
      cyclic.self = cyclic
      v.captureError(cyclic)
      v.captureError(undefined)
      v.captureError({ get message() { throw new Error('hostile getter') } })
      v.flow(null as unknown as string).ok()
      v.flow('x', { timeoutMs: -1 }).fail({ toString() { throw new Error('hostile reason') } })
      v.track('y', null)
      v.track('z', { then() { throw new Error('hostile thenable') } })
      w.vigil('no-such-method', 1)
      v.init({ key: 'a second init is ignored' })
      v.flush()
      await new Promise((r) => setTimeout(r, 1500))
      return errors
    })
    await p.goto(`${app.origin}/blank`)
    expect(seen).toBe(0)
    expect(pageErrors).toEqual([])
    expect(consoleLines).toEqual([])
  })

  it('works on a page with a strict Content-Security-Policy when served from the same origin', async () => {
    const violations: string[] = []
    const p = await open('csp-1', `vigil.flow('login').ok()`, '/strict')
    p.on('console', (m) => m.type() === 'error' && violations.push(m.text()))
    await flush(p)
    await arrived('csp-1', (r) => r.some((e) => e.kind === 'flow'))
    // vitals.js loads under the same policy and reports when the page goes.
    await p.waitForFunction(() => Array.from(document.scripts).some((s) => s.src.endsWith('/vitals.js')))
    await p.waitForTimeout(300)
    await p.goto(`${app.origin}/blank`)
    const rows = await arrived('csp-1', (r) => ['TTFB', 'FCP'].every((n) => r.some((e) => e.kind === 'vital' && e.name === n)))
    expect(rows.filter((e) => e.kind === 'vital').map((e) => e.name)).toEqual(expect.arrayContaining(['TTFB', 'FCP']))
    expect(violations).toEqual([])
  })

  it('reports web vitals from vitals.js, loaded after the page', async () => {
    // A slow click handler that changes the page: INP counts interactions up to the next paint,
    // and only those over 40 ms.
    const p = await open(
      'vitals-1',
      `document.addEventListener('DOMContentLoaded', function () {
         document.body.insertAdjacentHTML('beforeend', '<button id=b style="font-size:40px">Play</button>')
         document.getElementById('b').onclick = function () { var end = Date.now() + 200; while (Date.now() < end); document.body.style.background = '#fee' }
       })`,
    )
    await p.waitForFunction(() => Array.from(document.scripts).some((s) => s.src.endsWith('/vitals.js')))
    await p.waitForTimeout(300)
    await p.click('#b') // an interaction: INP, and LCP is final
    // web-vitals handles interactions in an idle callback capped at 1 s; hidden sooner, the INP is lost.
    await p.waitForTimeout(1300)
    await p.goto(`${app.origin}/blank`) // hidden: CLS and INP are final
    const rows = await arrived('vitals-1', (r) => new Set(r.filter((e) => e.kind === 'vital').map((e) => e.name)).size >= 5)
    const vitals = Object.fromEntries(rows.filter((e) => e.kind === 'vital').map((e) => [e.name, e.value]))
    expect(Object.keys(vitals).sort()).toEqual(['CLS', 'FCP', 'INP', 'LCP', 'TTFB'])
    expect(vitals.LCP).toBeGreaterThan(0)
  })

  it('takes data-endpoint with a trailing slash: vitals.js and ingest at the right paths', async () => {
    const p = await open('slash-1', `vigil.flow('login').ok()`, '/p', '&endpoint=/')
    await p.waitForFunction(() => Array.from(document.scripts).some((s) => s.src.endsWith('/vitals.js')))
    expect(await p.evaluate(() => Array.from(document.scripts).map((s) => s.src).filter((x) => x.endsWith('/vitals.js')))).toEqual([`${app.origin}/vitals.js`])
    await flush(p)
    await arrived('slash-1', (r) => r.some((e) => e.kind === 'flow' && e.name === 'login'))
  })

  it('replays calls queued by the stub before the agent loaded', async () => {
    const p = await open('stub-1', '', '/stub')
    await p.waitForFunction(() => typeof (window as unknown as { vigil: { flush?: unknown } }).vigil.flush === 'function')
    await flush(p)
    const rows = await arrived('stub-1', (r) => r.some((e) => e.kind === 'error') && r.some((e) => e.kind === 'flow'))
    expect(rows.find((e) => e.kind === 'error')).toMatchObject({ message: 'before the agent loaded', handled: 1 })
    expect(rows.find((e) => e.kind === 'flow')).toMatchObject({ name: 'boot', outcome: 'ok' })
  })

  it('keeps one session across reloads, a new one in a new browser profile, and honours sampling', async () => {
    const p = await open('sess-1', `vigil.flow('view').ok()`)
    await flush(p)
    await p.reload()
    await flush(p)
    const q = await open('sess-1', `vigil.flow('view').ok()`)
    await flush(q)
    const rows = await arrived('sess-1', (r) => r.filter((e) => e.kind === 'flow').length === 3)
    const sessions = rows.filter((e) => e.kind === 'flow').map((e) => e.session)
    expect(new Set(sessions).size).toBe(2)

    const s = await open('sample-0', `vigil.flow('view').ok(); vigil.captureError(new Error('not sampled'))`, '/p', '&sample=0')
    await flush(s)
    await s.goto(`${app.origin}/blank`)
    await s.waitForTimeout(500)
    expect(await countEvents(collector.app.vigil.store, 'default', { release: 'sample-0' })).toBe(0)
  })

  it('scrubs query strings, emails and tokens, and lets beforeSend change or drop events', async () => {
    const p = await open(
      'scrub-1',
      `vigil.captureError(new Error('login failed for jane.doe@example.com with Bearer abc.def.ghi at https://api.example/v1/session?token=s3cr3t&user=jane'))
       vigil.flow('login').fail('password=hunter2 rejected')`,
      '/p',
      '&email=jane.doe@example.com#access_token=xyz',
    )
    await flush(p)
    const rows = await arrived('scrub-1', (r) => r.some((e) => e.kind === 'error') && r.some((e) => e.kind === 'flow'))
    const err = rows.find((e) => e.kind === 'error')!
    expect(err.message).toBe('login failed for [email] with Bearer [redacted] at https://api.example/v1/session')
    expect(err.stack).not.toContain('jane.doe')
    expect(err.url).toBe(`${app.origin}/p`)
    expect(rows.find((e) => e.kind === 'flow')!.reason).toBe('password [redacted] rejected')

    const hooked = await open(
      'hook-1',
      `vigil.init({ key: '${KEY}', release: 'hook-1', endpoint: location.origin, beforeSend: function (e) {
         if (e.t === 'error' && /ignore me/.test(e.m)) return null
         if (e.t === 'flow') e.n = 'renamed-' + e.n
         return e
       } })
       vigil.captureError(new Error('ignore me')); vigil.captureError(new Error('keep me')); vigil.flow('pay').ok()`,
      '/manual',
    )
    await flush(hooked)
    const hookedRows = await arrived('hook-1', (r) => r.some((e) => e.kind === 'flow') && r.some((e) => e.kind === 'error'))
    expect(hookedRows.filter((e) => e.kind === 'error').map((e) => e.message)).toEqual(['keep me'])
    expect(hookedRows.find((e) => e.kind === 'flow')!.name).toBe('renamed-pay')
  })

  it('deduplicates bursts of the same error, marks cross-origin errors, and ignores extension errors', async () => {
    const p = await open(
      'burst-1',
      `for (var i = 0; i < 200; i++) setTimeout(function () { null.f() })
       var s = document.createElement('script'); s.src = '${'OTHER'}/thrower.js'; document.head.appendChild(s)
       var ext = new Error('from an extension'); ext.stack = 'Error: from an extension\\n    at inject (chrome-extension://abcdefgh/content.js:1:10)\\n    at ${'APP'}/app.js:1:1'
       window.dispatchEvent(new ErrorEvent('error', { error: ext, message: ext.message }))`.replace('OTHER', other.origin).replace('APP', app.origin),
    )
    await p.waitForTimeout(500)
    await flush(p)
    const rows = await arrived('burst-1', (r) => r.filter((e) => e.kind === 'error').length >= 2)
    await p.waitForTimeout(300)
    const errors = (await storedEvents(collector.app.vigil.store, 'default', { release: 'burst-1', kind: 'error' })).map((e) => [e.name, e.message])
    expect(errors.sort()).toEqual([
      ['CrossOriginScriptError', 'Script error.'],
      ['TypeError', "Cannot read properties of null (reading 'f')"],
    ])
    expect(rows.some((e) => e.message.includes('secret detail'))).toBe(false)
  })
})
