/**
 * The collector started as `npm start` starts it (no VIGIL_ADMIN_TOKEN: the admin APIs answer this
 * machine) is safe while its operator browses. In real Chromium, pages of other origins cannot
 * use the admin APIs with the requests a browser sends without asking (a form, a no-cors fetch),
 * nor open the live feed; a name that resolves to the collector (DNS rebinding) is refused by its
 * Host. The collector's own page and scripts without browser headers still work. Slow clients
 * are cut by the timeouts; WebSockets outlive them.
 */
import { request } from 'node:http'
import { connect } from 'node:net'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { loadConfig } from '../../collector/src/config.js'
import { startAppServer } from '../helpers/appServer.js'
import { launchChromium } from '../helpers/browser.js'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'
import { startReceiver } from '../helpers/receiver.js'
import { waitFor } from '../helpers/waitFor.js'

const KEY = 'vgl_crosssite'
const TIMEOUTS = { headersMs: 500, requestMs: 1000, idleMs: 1500, keepAliveMs: 1000 }

/**
 * The attacker's page: what a page may send anywhere without a preflight — a no-cors fetch to
 * the test alert and to rotate-key, a WebSocket to the live feed — and a form posting to
 * rotate-key (the test submits it: a navigation, the page ends on the collector's answer).
 */
const attack = (target: string) => `<!doctype html><html><body>
<form id="f" method="post" enctype="text/plain" action="${target}/v1/projects/default/rotate-key"></form>
<script>
window.result = (async () => {
  const send = (path) => fetch('${target}' + path, { method: 'POST', mode: 'no-cors' }).then(() => 'answered', (e) => String(e))
  const alert = await send('/v1/alerts/test')
  const rotate = await send('/v1/projects/default/rotate-key')
  const live = await new Promise((r) => {
    const ws = new WebSocket('${target.replace('http', 'ws')}/v1/live')
    ws.onopen = () => r('open')
    ws.onerror = () => r('refused')
  })
  return { alert, rotate, live }
})()
</script></body></html>`

describe('pages of other sites against a collector without an admin token', () => {
  const dir = tempDir()
  let c: Running
  let port: string
  let hook: Awaited<ReturnType<typeof startReceiver>>
  let site: Awaited<ReturnType<typeof startAppServer>>
  let browser: Browser

  beforeAll(async () => {
    hook = await startReceiver()
    c = await startCollector({
      dataDir: dir.path,
      projectKey: KEY,
      webhookUrl: hook.url,
      evalIntervalMs: 3_600_000,
      allowedHosts: ['vigil.test'],
      allowedOrigins: ['http://ops.test'],
      timeouts: TIMEOUTS,
    })
    port = new URL(c.url).port
    site = await startAppServer(c.url, { '/attack': (q) => ({ body: attack(q.get('target')!) }) })
    // Every *.test name is this machine, as a name an attacker rebinds to 127.0.0.1 would be.
    browser = await launchChromium(['--host-resolver-rules=MAP *.test 127.0.0.1'])
  })
  afterAll(async () => {
    await browser?.close()
    await site?.close()
    await c?.close()
    await hook?.close()
    dir.remove()
  })

  const refusals = async (code: string) => {
    const text = await (await fetch(`${c.url}/metrics`)).text()
    return Number(new RegExp(`^vigil_requests_refused_total\\{code="${code}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0)
  }
  const key = () => c.app.vigil.projects.get('default')!.ingestKey

  /** A request as curl sends it: no Origin, no Sec-Fetch-*, any Host. */
  const raw = (method: string, path: string, headers: Record<string, string> = {}, body = '') =>
    new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
      const req = request(`${c.url}${path}`, { method, headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...headers } }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (d: Buffer) => chunks.push(d))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString()
          let json: Record<string, unknown> = {}
          try {
            json = JSON.parse(text) as Record<string, unknown>
          } catch {
            // Not JSON (the metrics).
          }
          resolve({ status: res.statusCode ?? 0, json })
        })
      })
      req.on('error', reject)
      req.end(body)
    })

  it('refuses the admin APIs and the live feed to a page of another site (cross-site, same-site, and with no fetch metadata)', async () => {
    const before = await refusals('VIGIL_CROSS_SITE')
    // localhost is another site than 127.0.0.1; another port of 127.0.0.1 is the same site
    // (another local dev server); *.test names are not secure contexts, so Chromium sends no
    // Sec-Fetch-Site there and the collector goes by Origin.
    const cases = [
      { page: `http://localhost:${new URL(site.origin).port}`, target: c.url },
      { page: site.origin, target: c.url },
      { page: `http://evil.test:${new URL(site.origin).port}`, target: `http://vigil.test:${port}` },
    ]
    for (const { page: origin, target } of cases) {
      const page = await browser.newPage()
      await page.goto(`${origin}/attack?target=${encodeURIComponent(target)}`)
      const result = await page.evaluate(() => (window as unknown as { result: Promise<Record<string, string>> }).result)
      expect(result, origin).toEqual({ alert: 'answered', rotate: 'answered', live: 'refused' })
      await page.evaluate(() => (document.getElementById('f') as HTMLFormElement).submit())
      await page.waitForURL(`${target}/v1/projects/default/rotate-key`)
      expect(JSON.parse((await page.textContent('body'))!), origin).toMatchObject({ statusCode: 403, code: 'VIGIL_CROSS_SITE' })
      await page.close()
    }
    expect(hook.received).toEqual([])
    expect(key()).toBe(KEY)
    // Per page: the two fetches, the WebSocket, the form.
    expect(await refusals('VIGIL_CROSS_SITE')).toBe(before + 4 * cases.length)
  })

  it('refuses the dashboard, its APIs and the live feed under a host name that is not its own (DNS rebinding)', async () => {
    const page = await browser.newPage()
    // The agent is served to any name; the attacker's page is now "same-origin" with the collector.
    await page.goto(`http://rebind.test:${port}/vigil.js`)
    const seen = await page.evaluate(async () => {
      const projects = await fetch('/v1/projects').then(async (r) => ({ status: r.status, body: (await r.json()) as unknown }))
      const rotate = await fetch('/v1/projects/default/rotate-key', { method: 'POST' }).then((r) => r.status)
      const live = await new Promise((r) => {
        const ws = new window.WebSocket(`ws://${location.host}/v1/live`)
        ws.onopen = () => r('open')
        ws.onerror = () => r('refused')
      })
      return { projects, rotate, live }
    })
    expect(seen).toEqual({ projects: { status: 403, body: expect.objectContaining({ code: 'VIGIL_HOST_NOT_ALLOWED' }) as unknown }, rotate: 403, live: 'refused' })
    await page.close()
    expect(key()).toBe(KEY)
    for (const path of ['/', '/v1/overview', '/v1/releases', '/login']) expect((await raw('GET', path, { host: `rebind.test:${port}` })).status, path).toBe(403)
    // Intake and monitoring answer any name: agents and scrapers use whatever name reaches it.
    expect((await raw('POST', '/v1/ingest', { host: 'collector.internal' }, JSON.stringify({ k: KEY, r: '1.0.0', s: 's', ev: [{ t: 'flow', ts: Date.now(), n: 'login', o: 'ok' }] }))).status).toBe(202)
    expect((await raw('GET', '/healthz', { host: 'collector.internal' })).status).toBe(200)
    expect((await raw('GET', '/metrics', { host: 'collector.internal' })).status).toBe(200)
    expect(await refusals('VIGIL_HOST_NOT_ALLOWED')).toBe(3 + 4)
  })

  it("keeps the collector's own page working: its reads, its live feed and same-origin admin requests", async () => {
    const page = await browser.newPage()
    await page.goto(`${c.url}/`)
    await waitFor('the live feed', async () => (await page.getAttribute('#status', 'class')) === 'live')
    const status = await page.evaluate(() => fetch('/v1/alerts/test', { method: 'POST' }).then((r) => r.status))
    expect(status).toBe(200)
    expect(hook.received).toHaveLength(1)
    // Under an allowed name (not a secure context: no fetch metadata, the Origin is its own).
    await page.goto(`http://vigil.test:${port}/`)
    await waitFor('the live feed', async () => (await page.getAttribute('#status', 'class')) === 'live')
    expect(await page.evaluate(() => fetch('/v1/projects').then((r) => r.status))).toBe(200)
    await page.close()
  })

  it('answers scripts without browser headers (curl, the CLI), an allowed origin, and refuses a forged foreign Origin', async () => {
    expect((await raw('GET', '/v1/projects')).status).toBe(200)
    expect((await raw('GET', '/v1/projects', { origin: 'https://evil.example' })).json).toMatchObject({ statusCode: 403, code: 'VIGIL_CROSS_SITE' })
    expect((await raw('GET', '/v1/projects', { origin: 'null' })).status).toBe(403)
    expect((await raw('GET', '/v1/projects', { origin: c.url })).status).toBe(200)
    expect((await raw('GET', '/v1/projects', { origin: 'http://ops.test', 'sec-fetch-site': 'cross-site' })).status).toBe(200)
    expect((await raw('GET', '/v1/projects', { origin: 'http://other.test', 'sec-fetch-site': 'same-site' })).status).toBe(403)
    // A link to the dashboard from another site (an alert in a chat) is a navigation: it opens.
    expect((await raw('GET', '/releases/1.0.0', { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' })).status).toBe(200)
    const rotated = await raw('POST', '/v1/projects/default/rotate-key', {}, '{}')
    expect(rotated.status).toBe(200)
    expect(key()).not.toBe(KEY)
  })

  it('cuts a client that sends its headers or body too slowly, and keeps idle WebSockets open', async () => {
    const live = new WebSocket(`${c.url.replace('http', 'ws')}/v1/live`)
    const ingest = new WebSocket(`${c.url.replace('http', 'ws')}/v1/ws?key=${key()}`)
    const closed: string[] = []
    live.on('close', () => closed.push('live'))
    ingest.on('close', () => closed.push('ingest'))
    await Promise.all([live, ingest].map((ws) => new Promise((r) => ws.once('open', r))))

    // Bounded: a server that never cuts them is told apart by what they got (nothing).
    const slow = (head: string) =>
      new Promise<string>((resolve) => {
        const socket = connect(Number(port), '127.0.0.1', () => socket.write(head))
        const bound = setTimeout(() => socket.destroy(), 15_000)
        let got = ''
        socket.on('data', (d: Buffer) => (got += d.toString()))
        socket.on('close', () => {
          clearTimeout(bound)
          resolve(got)
        })
      })
    const [headers, body] = await Promise.all([
      slow('GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: '),
      slow('POST /v1/ingest HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"k":'),
    ])
    expect(headers).toMatch(/^HTTP\/1\.1 408/)
    expect(body).toMatch(/^HTTP\/1\.1 408/)
    // Idle past every timeout: still open, and the ingest socket still takes a batch.
    await new Promise((r) => setTimeout(r, TIMEOUTS.idleMs + TIMEOUTS.requestMs))
    expect(closed).toEqual([])
    ingest.send(JSON.stringify({ id: 'after-idle', r: '1.0.0', s: 's', ev: [{ t: 'flow', ts: Date.now(), n: 'login', o: 'ok' }] }))
    const ack = await new Promise<string>((r) => ingest.once('message', (d) => r(String(d))))
    expect(JSON.parse(ack)).toMatchObject({ id: 'after-idle', status: 202 })
    live.close()
    ingest.close()
  })
})

describe('the allow-lists in the environment', () => {
  it('takes host names and origins, and refuses what is neither instead of guessing', () => {
    const config = loadConfig({ VIGIL_ALLOWED_HOSTS: 'Vigil.Example.com:8080, [::1], vigil.internal', VIGIL_ALLOWED_ORIGINS: 'https://ops.example.com/' })
    expect(config.allowedHosts).toEqual(['vigil.example.com', '::1', 'vigil.internal'])
    expect(config.allowedOrigins).toEqual(['https://ops.example.com'])
    expect(() => loadConfig({ VIGIL_ALLOWED_HOSTS: 'https://vigil.example.com' })).toThrow(/VIGIL_ALLOWED_HOSTS/)
    expect(() => loadConfig({ VIGIL_ALLOWED_ORIGINS: 'https://ops.example.com/admin' })).toThrow(/VIGIL_ALLOWED_ORIGINS/)
    expect(() => loadConfig({ VIGIL_ALLOWED_ORIGINS: 'ops.example.com' })).toThrow(/VIGIL_ALLOWED_ORIGINS/)
  })
})
