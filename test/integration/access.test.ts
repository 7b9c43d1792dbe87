/**
 * Reading the dashboard and its APIs with VIGIL_ADMIN_TOKEN set: refused without it, allowed with
 * the token or the session cookie the login form sets; the live feed likewise. Ingest stays open.
 */
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

  it('trades the token for a session cookie at /login, and goes where it was asked, on this site only', async () => {
    const login = await get('/login')
    expect(login.status).toBe(200)
    expect(login.headers.get('content-security-policy')).toContain("script-src 'self'")
    const post = (token: string, next = '/releases/1.0.0') =>
      fetch(`${c.url}/login?next=${encodeURIComponent(next)}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${encodeURIComponent(token)}`, redirect: 'manual' })
    const refused = await post('nope')
    expect(refused.status).toBe(401)
    expect(await refused.text()).toContain('That is not the admin token.')
    const ok = await post(TOKEN)
    expect(ok.status).toBe(303)
    expect(ok.headers.get('location')).toBe('/releases/1.0.0')
    const cookie = ok.headers.get('set-cookie')!
    expect(cookie).toMatch(/^vigil_session=[\w-]+; Path=\/; HttpOnly; SameSite=Strict/)
    const session = cookie.split(';')[0]!
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
})
