/**
 * Reading the dashboard and its APIs with VIGIL_ADMIN_TOKEN set: refused without it, allowed with
 * the token or the session cookie the login form sets (only a form this collector gave out logs
 * in); the live feed likewise. The cookie is no use to another site's request or under another
 * host name; the token is, by any name. Ingest stays open. (Pages of other sites in a real
 * browser: crosssite.test.ts.)
 */
import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'

const TOKEN = 'admin-token-for-access-test'

describe('access to the dashboard', () => {
  const dir = tempDir()
  let c: Running
  beforeAll(async () => {
    c = await startCollector({ dataDir: dir.path, adminToken: TOKEN, projectKey: 'vgl_access' })
  })
  afterAll(async () => {
    await c?.close()
    dir.remove()
  })

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${c.url}${path}`, { headers, redirect: 'manual' })
  /** fetch() will not send another Host: a plain request does. */
  const hostGet = (path: string, host: string, headers: Record<string, string>) =>
    new Promise<{ status: number; code?: string }>((resolve, reject) => {
      request(`${c.url}${path}`, { headers: { ...headers, host } }, (res) => {
        let text = ''
        res.on('data', (d: Buffer) => (text += d.toString()))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, code: (JSON.parse(text) as { code?: string }).code }))
      })
        .on('error', reject)
        .end()
    })
  const refusals = async (code: string) => {
    const text = await (await get('/metrics')).text()
    return Number(new RegExp(`^vigil_requests_refused_total\\{code="${code}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0)
  }

  it('refuses pages and read APIs without the token', async () => {
    const page = await get('/releases/1.0.0')
    expect(page.status).toBe(303)
    expect(page.headers.get('location')).toBe('/login?next=%2Freleases%2F1.0.0')
    for (const path of ['/v1/overview', '/v1/releases', '/v1/releases/1.0.0', '/v1/releases/1.0.0/verdict', '/v1/alerts', '/ui/app.js']) {
      const res = await get(path)
      expect(res.status, path).toBe(401)
      expect(await res.json()).toMatchObject({ code: 'VIGIL_LOGIN_REQUIRED' })
    }
    // The agent and ingest do not need it.
    expect((await get('/vigil.js')).status).toBe(200)
    expect((await fetch(`${c.url}/v1/ingest`, { method: 'POST', body: JSON.stringify({ k: 'vgl_access', r: 'r', s: 's', ev: [{ t: 'flow', ts: Date.now(), n: 'x', o: 'ok' }] }) })).status).toBe(202)
  })

  it('allows the token as a bearer', async () => {
    expect((await get('/v1/releases', { authorization: `Bearer ${TOKEN}` })).status).toBe(200)
    expect((await get('/v1/releases', { authorization: 'Bearer wrong' })).status).toBe(401)
  })

  /** The login form as a browser gets it: its cookie and its hidden field. */
  const loginForm = async () => {
    const page = await get('/login')
    expect(page.status).toBe(200)
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    const cookie = page.headers.get('set-cookie')!
    expect(cookie).toMatch(/^vigil_login=[\w-]+; Path=\/login; HttpOnly; SameSite=Strict/)
    return { cookie: cookie.split(';')[0]!, form: /name="form" value="([\w-]+)"/.exec(await page.text())![1]! }
  }
  const postLogin = (fields: Record<string, string>, cookie: string, next = '/releases/1.0.0') =>
    fetch(`${c.url}/login?next=${encodeURIComponent(next)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams(fields).toString(),
      redirect: 'manual',
    })

  it('trades the token for a session cookie at /login, and goes where it was asked, on this site only', async () => {
    const { cookie, form } = await loginForm()
    const post = (token: string, next?: string) => postLogin({ token, form }, cookie, next)
    const refused = await post('nope')
    expect(refused.status).toBe(401)
    expect(await refused.text()).toContain('That is not the admin token.')
    const ok = await post(TOKEN)
    expect(ok.status).toBe(303)
    expect(ok.headers.get('location')).toBe('/releases/1.0.0')
    const setCookie = ok.headers.get('set-cookie')!
    expect(setCookie).toMatch(/^vigil_session=[\w-]+; Path=\/; HttpOnly; SameSite=Strict/)
    const session = setCookie.split(';')[0]!
    expect((await get('/v1/releases', { cookie: session })).status).toBe(200)
    expect((await get('/', { cookie: session })).status).toBe(200)
    for (const elsewhere of ['//evil.example/', '/\\evil.example', '/\t/evil.example', 'https://evil.example/']) {
      expect((await post(TOKEN, elsewhere)).headers.get('location'), elsewhere).toBe('/')
    }
    expect((await post(TOKEN, '/releases/1.0.0?env=staging&range=24h')).headers.get('location')).toBe('/releases/1.0.0?env=staging&range=24h')

    // The live feed needs the same.
    const refusedWs = new WebSocket(`${c.url.replace('http', 'ws')}/v1/live`)
    await expect(new Promise((_, reject) => refusedWs.once('error', reject))).rejects.toThrow(/401/)
    const ws = new WebSocket(`${c.url.replace('http', 'ws')}/v1/live`, { headers: { cookie: session } })
    const first = await new Promise<string>((r) => ws.once('message', (d) => r(String(d))))
    expect(JSON.parse(first)).toMatchObject({ type: 'look' })
    ws.close()
  })

  it('logs in only with a form it gave out: the field must match the form\'s own cookie', async () => {
    const { cookie, form } = await loginForm()
    const planted = 'vigil_login=AAAAAAAAAAAAAAAAAAAAAAAA'
    for (const [fields, jar] of [
      [{ token: TOKEN }, cookie],
      [{ token: TOKEN, form }, ''],
      [{ token: TOKEN, form }, planted],
      [{ token: TOKEN, form: form.slice(1) }, cookie],
    ] as const) {
      const res = await postLogin(fields, jar)
      expect(res.status, JSON.stringify([fields, jar])).toBe(403)
      expect(res.headers.get('set-cookie') ?? '').not.toContain('vigil_session')
      expect(await res.text()).toContain('log in again')
    }
    expect(await refusals('VIGIL_LOGIN_FORM_STALE')).toBe(4)
  })

  it('refuses the session cookie to another site\'s request and under another host name; the token works by any name', async () => {
    const { cookie, form } = await loginForm()
    const session = (await postLogin({ token: TOKEN, form }, cookie)).headers.get('set-cookie')!.split(';')[0]!
    const crossSite = await get('/v1/releases', { cookie: session, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors' })
    expect(crossSite.status).toBe(403)
    expect(await crossSite.json()).toMatchObject({ code: 'VIGIL_CROSS_SITE' })
    const foreign = await hostGet('/v1/releases', 'vigil.attacker.example', { cookie: session })
    expect(foreign).toMatchObject({ status: 403, code: 'VIGIL_HOST_NOT_ALLOWED' })
    expect(await hostGet('/v1/releases', 'vigil.internal:8080', { authorization: `Bearer ${TOKEN}` })).toMatchObject({ status: 200 })
    // The live feed checks the page's Origin before it upgrades.
    const ws = new WebSocket(`${c.url.replace('http', 'ws')}/v1/live`, { headers: { cookie: session }, origin: 'https://evil.example' })
    await expect(new Promise((_, reject) => ws.once('error', reject))).rejects.toThrow(/403/)
  })
})
