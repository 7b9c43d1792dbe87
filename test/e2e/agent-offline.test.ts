/**
 * The agent when the network or the page goes away: events made offline survive a reload and
 * arrive once online, with their original times, exactly once; a flow whose page vanished
 * without `pagehide` is settled as abandoned by the next page. Real Chromium, real collector.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startAppServer, html } from '../helpers/appServer.js'
import { launchChromium } from '../helpers/browser.js'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'
import { waitFor } from '../helpers/waitFor.js'
import { countEvents, storedEvents } from '../helpers/storeQueries.js'

const KEY = 'vgl_offline_e2e_key'

// An offline-capable app, as a video app with offline playback is: a service worker keeps the
// page and its scripts, so the app still loads (and reloads) with no network.
const serviceWorker = `
const ASSETS = ['/player', '/vigil.js', '/player.js']
self.addEventListener('install', (e) => e.waitUntil(caches.open('app').then((c) => c.addAll(ASSETS)).then(() => self.skipWaiting())))
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()))
self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url)
  if (e.request.method !== 'GET' || !ASSETS.includes(url.pathname)) return
  e.respondWith(fetch(e.request).catch(() => caches.match(url.pathname)))
})`

const player = `
navigator.serviceWorker.register('/sw.js')
window.playOffline = function () {
  window.madeAt = Date.now()
  var f = vigil.flow('offline-playback')
  f.step('open-cached-media')
  setTimeout(function () { throw new Error('MediaError: cached segment 12 missing') })
  setTimeout(function () { f.fail('segment 12 missing from the offline cache'); vigil.flush() }, 20)
}`

describe('agent offline and after interruptions', () => {
  const dir = tempDir()
  let collector: Running
  let app: Awaited<ReturnType<typeof startAppServer>>
  let browser: Browser
  let context: BrowserContext

  beforeAll(async () => {
    collector = await startCollector({ dataDir: dir.path, projectKey: KEY })
    app = await startAppServer(collector.url, {
      '/player': html({ key: KEY, release: 'off-1', head: '<script src="/player.js"></script>' }),
      '/player.js': { body: player, type: 'text/javascript' },
      '/sw.js': { body: serviceWorker, type: 'text/javascript' },
      '/downloads': html({ key: KEY, release: 'kill-1', head: `<script>window.startDownload = function () { var d = vigil.flow('download'); d.step('chunk-9') }</script>` }),
      '/ticks': html({ key: KEY, release: 'ticks-1', attrs: 'data-vitals="false"' }),
      '/blank': { body: '<!doctype html><p>elsewhere</p>' },
    })
    browser = await launchChromium()
  })

  afterAll(async () => {
    await context?.close()
    await browser?.close()
    await app?.close()
    await collector?.close()
    dir.remove()
  })

  const stored = (release: string) => storedEvents(collector.app.vigil.store, 'default', { release })
  const outbox = (p: Page) => p.evaluate(() => JSON.parse(localStorage.getItem('vigil.q') || '[]') as { id: string; ev: unknown[] }[])

  it('keeps errors and a failed offline-playback flow made offline, across a reload, and delivers them once online with their original time', async () => {
    context = await browser.newContext()
    const p = await context.newPage()
    await p.goto(`${app.origin}/player`)
    // Wait until the service worker controls the page: from then on the app loads offline.
    await p.evaluate(() => navigator.serviceWorker.ready)
    await p.reload()
    await p.waitForFunction(() => !!navigator.serviceWorker.controller)
    await p.evaluate(() => (window as unknown as { vigil: { flush: () => void } }).vigil.flush())
    await waitFor('the online events of the first visit', async () => (await stored('off-1')).length > 0)

    // Offline as the page sees it (navigator.onLine false, its requests refused) and as the
    // network is: Chromium lets some requests out of its emulation (those of a page being
    // unloaded, and after a reload it may say online again), a dead network does not.
    await context.setOffline(true)
    app.networkDown(true)
    await p.evaluate(() => (window as unknown as { playOffline: () => void }).playOffline())
    const madeAt = await p.waitForFunction(() => (window as unknown as { madeAt?: number }).madeAt).then((h) => h.jsonValue() as Promise<number>)
    await waitFor('the offline events in the outbox', async () => {
      const q = await outbox(p)
      const kinds = q.flatMap((b) => b.ev as { t: string }[]).map((e) => e.t)
      return kinds.includes('error') && kinds.includes('flow')
    })

    // Reload while offline: the page comes from the service worker, the outbox from storage.
    await p.reload()
    await p.waitForFunction(() => typeof (window as unknown as { vigil?: { flush?: unknown } }).vigil?.flush === 'function')
    await p.waitForTimeout(2500)
    // Nothing made offline got out while offline. (Counting every event would not do: the online
    // page's last vitals may have been on their way when the network went.)
    const madeOffline = (rows: { kind: string; name: string }[]) => rows.filter((e) => e.kind === 'error' || e.name === 'offline-playback')
    expect(madeOffline(await stored('off-1'))).toEqual([])
    const kept = (await outbox(p)).flatMap((b) => b.ev as { t: string }[]).map((e) => e.t)
    expect(kept).toEqual(expect.arrayContaining(['error', 'flow']))

    app.networkDown(false)
    await context.setOffline(false)
    await goOnline(p)
    const rows = await waitFor('the offline events after going online', async () => {
      const r = await stored('off-1')
      return r.some((e) => e.kind === 'flow') && r.some((e) => e.kind === 'error') ? r : undefined
    })
    // Exactly once, however many pages and flushes saw them.
    await p.waitForTimeout(1500)
    const final = await stored('off-1')
    const flows = final.filter((e) => e.kind === 'flow')
    const errors = final.filter((e) => e.kind === 'error')
    expect(flows).toHaveLength(1)
    expect(errors).toHaveLength(1)
    expect(flows[0]).toMatchObject({ name: 'offline-playback', outcome: 'fail', reason: 'segment 12 missing from the offline cache', step: 'open-cached-media' })
    expect(errors[0]!.message).toBe('MediaError: cached segment 12 missing')
    // Their time is when they happened, not when they arrived.
    for (const e of [flows[0]!, errors[0]!]) {
      expect(Math.abs(e.ts - madeAt)).toBeLessThan(1000)
      expect(e.received - e.ts).toBeGreaterThan(2000)
    }
    expect(await outbox(p)).toEqual([])
  })

  /**
   * A browser fires `online` when the network is back; Chromium's emulation does not always (a
   * reloaded page may think it never went offline), so the page is told as a browser would.
   */
  const goOnline = (p: Page) => p.evaluate(() => dispatchEvent(new Event('online')))

  /** A page of its own whose session start has gone, then offline. */
  const offlineTicks = async () => {
    const ctx = await browser.newContext()
    const p = await ctx.newPage()
    await p.goto(`${app.origin}/ticks`)
    await p.evaluate(() => (window as unknown as { vigil: { flush: () => void } }).vigil.flush())
    await waitFor('the session start to be sent', async () => (await outbox(p)).length === 0)
    await ctx.setOffline(true)
    return { ctx, p }
  }

  it('bounds the outbox: the oldest batches go first, and how many events went is counted by the collector', async () => {
    const { ctx, p } = await offlineTicks()
    // 60 batches of one flow each: 10 more than the outbox keeps.
    await p.evaluate(() => {
      const v = (window as unknown as { vigil: { flow: (n: string) => { ok: () => void }; flush: () => void } }).vigil
      for (let i = 0; i < 60; i++) {
        v.flow('tick').ok()
        v.flush()
      }
    })
    expect(await outbox(p)).toHaveLength(50)
    await ctx.setOffline(false)
    await goOnline(p)
    await waitFor('the outbox to drain', async () => (await outbox(p)).length === 0)
    await collector.app.vigil.stored()
    const flows = await countEvents(collector.app.vigil.store, 'default', { release: 'ticks-1', name: 'tick' })
    const metrics = await (await fetch(`${collector.url}/metrics`)).text()
    const dropped = Number(/^vigil_events_refused_total\{reason="agent_outbox_full"\} (\d+)$/m.exec(metrics)?.[1])
    expect(flows).toBe(50)
    expect(dropped).toBe(10)
    await ctx.close()
  })

  it('delivers every batch made offline once the network is back, more than a keepalive request can carry at once', async () => {
    const { ctx, p } = await offlineTicks()
    // Ten batches of some 12 KB each (a failed flow with a long reason): 120 KB, past the 64 KiB
    // browsers let keepalive requests carry together.
    await p.evaluate(() => {
      const v = (window as unknown as { vigil: { flow: (n: string) => { fail: (r: string) => void }; flush: () => void } }).vigil
      for (let i = 0; i < 10; i++) {
        v.flow(`big-${i}`).fail(`${i} `.repeat(6000))
        v.flush()
      }
    })
    expect(await outbox(p)).toHaveLength(10)
    await ctx.setOffline(false)
    await goOnline(p)
    await waitFor('the outbox to drain', async () => (await outbox(p)).length === 0, 20_000)
    await collector.app.vigil.stored()
    const flows = (await stored('ticks-1')).filter((e) => e.kind === 'flow' && e.name.startsWith('big-'))
    expect(flows.map((f) => f.name).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `big-${i}`).sort())
    await ctx.close()
  })

  it('settles a flow whose page vanished without pagehide (crash, killed tab) as abandoned on the next load', async () => {
    const ctx = await browser.newContext()
    const p = await ctx.newPage()
    // A crashed or killed page never fires pagehide. Chromium under Playwright cannot reload a
    // crashed tab, so the page withholds pagehide from the agent instead (a listener that runs
    // before the agent's and stops the event): the agent sees what it sees after a crash.
    await p.addInitScript(() => window.addEventListener('pagehide', (e) => e.stopImmediatePropagation()))
    await p.goto(`${app.origin}/downloads`)
    await p.evaluate(() => (window as unknown as { startDownload: () => void }).startDownload())
    await p.goto(`${app.origin}/blank`)
    await p.waitForTimeout(500)
    const meanwhile = await stored('kill-1')
    expect(meanwhile.filter((e) => e.kind === 'flow')).toEqual([])
    expect(meanwhile.filter((e) => e.kind === 'session' && e.outcome !== 'start')).toEqual([]) // pagehide really was withheld

    // The next page in the same tab.
    await p.goto(`${app.origin}/downloads`)
    await p.evaluate(() => (window as unknown as { vigil: { flush: () => void } }).vigil.flush())
    const rows = await waitFor('the abandoned download', async () => {
      const r = (await stored('kill-1')).filter((e) => e.kind === 'flow')
      return r.length ? r : undefined
    })
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({ name: 'download', outcome: 'abandoned', step: 'chunk-9' })
    await ctx.close()
  })
})
