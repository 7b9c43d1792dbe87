/**
 * An app that runs the official Sentry browser SDK (`@sentry/browser`, bundled by esbuild as an
 * app's bundler would) and changes only its DSN to point at the collector, in real Chromium:
 * its sessions, unhandled and handled errors arrive through `/api/1/envelope/`, each error counts
 * in the session it happened in, and a release whose sessions crash pages on-call and is judged bad.
 */
import { join } from 'node:path'
import * as esbuild from 'esbuild'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startAppServer } from '../helpers/appServer.js'
import { launchChromium } from '../helpers/browser.js'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'
import { storedEvents } from '../helpers/storeQueries.js'
import { startReceiver } from '../helpers/receiver.js'
import { waitFor } from '../helpers/waitFor.js'

const KEY = 'vgl_sentry_e2e_key'
const root = join(import.meta.dirname, '../..')
const BASELINE = 40
const NEW = 40

// The app: Sentry as its docs say to start it, the DSN naming our collector. Release 1.1.0 throws
// an unhandled TypeError (an old bug, 1 of 40 sessions on 1.0.0) in every second session; both releases report a handled error now and then.
const appCode = (dsn: string) => `
import * as Sentry from '@sentry/browser'
const q = new URLSearchParams(location.search)
const release = q.get('r'), i = Number(q.get('i'))
Sentry.init({ dsn: '${dsn}', release, environment: 'production' })
function loadPlans(plans) { return plans.items.map((p) => p.name) }
if (release === '1.1.0' ? i % 2 === 0 : i === 7) setTimeout(() => loadPlans(null))
if (i % 5 === 0) Sentry.captureException(new Error('Price feed stale'))
setTimeout(async () => { await Sentry.flush(3000); window.done = true }, 100)
`

// With tracing on (span streaming: @sentry/browser 11's default), each page load is a segment
// span of op `pageload`; the project names that op a flow.
const tracedCode = (dsn: string) => `
import * as Sentry from '@sentry/browser'
Sentry.init({ dsn: '${dsn}', release: 'traced-1.0.0', environment: 'production', tracesSampleRate: 1, integrations: [Sentry.browserTracingIntegration({ idleTimeout: 200 })] })
setTimeout(async () => { await Sentry.flush(3000); window.done = true }, 1000)
`

describe('the Sentry browser SDK, by its DSN', () => {
  const dir = tempDir()
  let collector: Running
  let receiver: Awaited<ReturnType<typeof startReceiver>>
  let app: Awaited<ReturnType<typeof startAppServer>>
  let browser: Browser

  beforeAll(async () => {
    receiver = await startReceiver()
    collector = await startCollector({ dataDir: dir.path, projectKey: KEY, webhookUrl: receiver.url, evalIntervalMs: 1000 })
    const dsn = `http://${KEY}@${new URL(collector.url).host}/1`
    const bundle = async (code: string) =>
      (await esbuild.build({ stdin: { contents: code, resolveDir: root, loader: 'js' }, bundle: true, format: 'iife', minify: true, write: false, logLevel: 'warning' })).outputFiles[0]!.text
    app = await startAppServer(collector.url, {
      '/app.js': { body: await bundle(appCode(dsn)), type: 'text/javascript' },
      '/': { body: '<!doctype html><title>shop</title><script src="/app.js"></script>' },
      '/traced.js': { body: await bundle(tracedCode(dsn)), type: 'text/javascript' },
      '/traced': { body: '<!doctype html><title>shop</title><script src="/traced.js"></script>' },
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

  it('takes sessions and errors from the SDK as it sends them, and pages on a release whose sessions crash', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    const answers: { status: number; headers: Record<string, string> }[] = []
    page.on('response', (r) => {
      if (r.url().includes('/api/1/envelope/')) answers.push({ status: r.status(), headers: r.headers() })
    })
    const visit = async (release: string, i: number) => {
      await page.goto(`${app.origin}/?r=${release}&i=${i}`)
      await page.waitForFunction(() => (window as { done?: boolean }).done === true, undefined, { timeout: 10_000 })
    }
    for (let i = 0; i < BASELINE; i++) await visit('1.0.0', i)
    for (let i = 0; i < NEW; i++) await visit('1.1.0', i)

    type Alert = { data: { status: string; rule: string; subject: string; release: string; summary: string } }
    const firing = () => receiver.received.map((r) => (r.json as Alert).data).filter((d) => d.status === 'firing')
    const alert = await waitFor('an alert on 1.1.0', () => firing().find((d) => d.release === '1.1.0'), 30_000)
    expect(['crash_rate', 'new_error_group']).toContain(alert.rule)
    const verdict = (await (await fetch(`${collector.url}/v1/releases/1.1.0/verdict?env=production`)).json()) as { verdict: string }
    expect(verdict.verdict).toBe('bad')
    expect(firing().filter((d) => d.release === '1.0.0')).toEqual([])

    // Every envelope was taken, and the browser could read the answers (CORS).
    expect(answers.length).toBeGreaterThanOrEqual(BASELINE + NEW)
    expect(answers.filter((a) => a.status !== 200)).toEqual([])
    expect(answers.every((a) => a.headers['access-control-allow-origin'] === '*')).toBe(true)

    // One session per page load, as the SDK counts them: errors count in theirs, not as sessions of their own.
    // Every envelope was answered (on disk in the spool): wait until ClickHouse has them.
    await collector.app.vigil.stored()
    const store = collector.app.vigil.store
    const rows = await storedEvents(store, 'default', { release: '1.1.0' })
    const sessions = new Set(rows.filter((r) => r.kind === 'session').map((r) => r.session))
    expect(sessions.size).toBe(NEW)
    expect(new Set(rows.map((r) => r.session)).size).toBe(NEW)
    const errors = rows.filter((r) => r.kind === 'error')
    const unhandled = errors.filter((e) => e.handled === 0)
    expect(unhandled).toHaveLength(NEW / 2)
    expect(unhandled[0]).toMatchObject({ name: 'TypeError', url: `${app.origin}/` })
    expect(unhandled[0]!.message).toMatch(/null/)
    // Sentry's frames (oldest first) as a V8 stack (newest first), so it groups as the agent's do.
    expect(unhandled[0]!.stack).toMatch(new RegExp(`^TypeError: Cannot read properties of null \\(reading 'items'\\)\n    at \\w+ \\(${app.origin}/app\\.js:\\d+:\\d+\\)\n`))
    expect(errors.filter((e) => e.handled === 1).map((e) => e.message)).toEqual(Array(NEW / 5).fill('Price feed stale'))
    // Crashed sessions: those the SDK said were unhandled.
    const crashed = new Set(rows.filter((r) => r.kind === 'session' && r.outcome === 'crashed').map((r) => r.session))
    expect(crashed).toEqual(new Set(unhandled.map((e) => e.session)))

    // The release page says where its data came from.
    const detail = (await (await fetch(`${collector.url}/v1/releases/1.1.0?env=production&range=1h`)).json()) as { clients: unknown[] }
    expect(detail.clients).toEqual([{ client: 'sentry', sessions: NEW, events: rows.length }])
    const view = await context.newPage()
    await view.goto(`${collector.url}/releases/1.1.0?project=default&env=production&range=1h`)
    expect(await view.locator('.clients [data-client="sentry"]').textContent()).toBe(`Sentry SDK (${NEW} sessions, ${rows.length} events)`)
    await context.close()
  })

  it('takes the page loads a project names a flow from the spans the SDK streams', async () => {
    const set = await fetch(`${collector.url}/v1/projects/default`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ transactionFlows: { pageload: 'page-load' } }) })
    expect(set.status).toBe(200)
    const context = await browser.newContext()
    const page = await context.newPage()
    const PAGES = 4
    for (let i = 0; i < PAGES; i++) {
      await page.goto(`${app.origin}/traced?i=${i}`)
      await page.waitForFunction(() => (window as { done?: boolean }).done === true, undefined, { timeout: 10_000 })
    }
    await collector.app.vigil.stored()
    const rows = await storedEvents(collector.app.vigil.store, 'default', { release: 'traced-1.0.0' })
    const flows = rows.filter((r) => r.kind === 'flow')
    expect(flows.map((f) => [f.name, f.outcome])).toEqual(Array(PAGES).fill(['page-load', 'ok']))
    // Each in the session of its page load.
    const sessions = new Set(rows.filter((r) => r.kind === 'session').map((r) => r.session))
    expect(sessions.size).toBe(PAGES)
    expect(flows.every((f) => sessions.has(f.session))).toBe(true)
    await context.close()
  })
})
