/**
 * Projects and keys through the CLI (`bin/vigil.js`, a real child process) against a real
 * collector: several projects, allowed origins, per-key rate limits, key rotation with a grace
 * period, the admin token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli.js'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'

type Project = { id: string; ingestKey: string; origins: string[]; rateLimit: number; previousKey: string }

const cli = runCli

describe('projects and keys', () => {
  const dir = tempDir()
  let c: Running
  beforeAll(async () => {
    c = await startCollector({ dataDir: dir.path })
  })
  afterAll(async () => {
    await c?.close()
    dir.remove()
  })

  const send = (key: string, events = 1, origin?: string) =>
    fetch(`${c.url}/v1/ingest`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', ...(origin ? { origin } : {}) },
      body: JSON.stringify({ k: key, r: 'p', s: 's', ev: Array.from({ length: events }, () => ({ t: 'flow', ts: Date.now(), n: 'x', o: 'ok' })) }),
    })

  let shop: Project

  it('adds a project with allowed origins and a rate limit, and lists it', async () => {
    const added = await cli(c.url, ['project', 'add', 'Shop front', '--origin', 'https://shop.example', '--origin', 'https://*.shop.example', '--rate-limit', '30', '--json'])
    expect(added).toMatchObject({ code: 0 })
    shop = JSON.parse(added.out) as Project
    expect(shop).toMatchObject({ id: 'shop-front', origins: ['https://shop.example', 'https://*.shop.example'], rateLimit: 30 })
    expect(shop.ingestKey).toMatch(/^vgl_[A-Za-z0-9]{24}$/)
    const list = await cli(c.url, ['project', 'list'])
    expect(list.out).toContain('shop-front  (Shop front)')
    expect(list.out).toContain('default  (Default project)')
    expect(list.out).toContain(shop.ingestKey)
  })

  it('accepts the allowed origins (and requests without an origin), refuses the others', async () => {
    expect((await send(shop.ingestKey, 1, 'https://shop.example')).status).toBe(202)
    expect((await send(shop.ingestKey, 1, 'https://eu.shop.example')).status).toBe(202)
    expect((await send(shop.ingestKey, 1)).status).toBe(202) // a device, a server: no Origin
    const evil = await send(shop.ingestKey, 1, 'https://shop.example.evil.test')
    expect(evil.status).toBe(403)
    expect(await evil.json()).toMatchObject({ code: 'VIGIL_ORIGIN_NOT_ALLOWED' })
    // The default project allows any origin.
    expect((await send(c.app.vigil.defaultProject.ingestKey, 1, 'https://anywhere.test')).status).toBe(202)
  })

  it('limits events per key and says when to come back', async () => {
    // 30 events/s averaged over 10 s: 300 events, of which 3 went above.
    const statuses: number[] = []
    let refused: Response | undefined
    for (let i = 0; i < 4; i++) {
      const res = await send(shop.ingestKey, 100)
      statuses.push(res.status)
      if (res.status === 429) refused = res
    }
    expect(statuses).toEqual([202, 202, 429, 429])
    expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(await refused!.json()).toMatchObject({ code: 'VIGIL_RATE_LIMITED' })
    const metrics = await (await fetch(`${c.url}/metrics`)).text()
    expect(metrics).toMatch(/^vigil_events_refused_total\{reason="VIGIL_RATE_LIMITED"\} 200$/m)
  })

  it('rotates a key: the old one works through its grace period, then not', async () => {
    const graced = JSON.parse((await cli(c.url, ['project', 'rotate-key', 'default', '--json'])).out) as Project
    const old = c.app.vigil.defaultProject.ingestKey
    expect(graced.previousKey).toBe(old)
    expect(graced.ingestKey).not.toBe(old)
    expect((await send(old)).status).toBe(202)
    expect((await send(graced.ingestKey)).status).toBe(202)

    const now = JSON.parse((await cli(c.url, ['project', 'rotate-key', 'default', '--grace-hours', '0', '--json'])).out) as Project
    expect((await send(graced.ingestKey)).status).toBe(403)
    expect((await send(now.ingestKey)).status).toBe(202)
  })

  it('keeps projects across a restart, and requires the admin token when one is set', async () => {
    await c.close()
    c = await startCollector({ dataDir: dir.path, adminToken: 'admin-secret-1' })
    const refused = await cli(c.url, ['project', 'list'])
    expect(refused.code).toBe(1)
    expect(refused.err).toContain('VIGIL_ADMIN_REQUIRED')
    const allowed = await cli(c.url, ['project', 'list', '--json'], { VIGIL_ADMIN_TOKEN: 'admin-secret-1' })
    expect((JSON.parse(allowed.out) as Project[]).map((p) => p.id)).toEqual(['default', 'shop-front'])
    expect((await send(shop.ingestKey, 1, 'https://shop.example')).status).toBe(202)
  })

  it('explains its usage and refuses bad arguments', async () => {
    expect((await cli(c.url, ['nothing'])).code).toBe(2)
    const bad = await cli(c.url, ['project', 'add', 'x', '--rate-limit', 'lots'], { VIGIL_ADMIN_TOKEN: 'admin-secret-1' })
    expect(bad).toMatchObject({ code: 1 })
    expect(bad.err).toContain('--rate-limit takes a number')
    const badOrigin = await cli(c.url, ['project', 'add', 'y', '--origin', 'shop.example/path'], { VIGIL_ADMIN_TOKEN: 'admin-secret-1' })
    expect(badOrigin.err).toContain('400')
  })
})
