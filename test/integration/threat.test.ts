/**
 * A stranger with the public ingest key tries to make a healthy release "bad" (a rollback on
 * demand): fake failing sessions from one network weigh as one network, and a release is bad only
 * when its failures come from several. Clients are told apart by the address a trusted proxy
 * (here: loopback, the default) forwards, stored only as a salted hash of its network.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'
import { storedEvents } from '../helpers/storeQueries.js'

const KEY = 'vgl_threat_key'

describe('fake failures from one network', () => {
  const dir = tempDir()
  let c: Running
  beforeAll(async () => {
    c = await startCollector({ dataDir: dir.path, projectKey: KEY, evalIntervalMs: 3_600_000 })
  })
  afterAll(async () => {
    await c?.close()
    dir.remove()
  })

  let n = 0
  /** One session from `ip` (as the proxy forwards it): a start, a login, and when it fails, an unhandled error. */
  const session = (release: string, ok: boolean, ip: string) => {
    const s = `s${n++}`
    return fetch(`${c.url}/v1/ingest`, {
      method: 'POST',
      headers: { 'x-forwarded-for': ip },
      body: JSON.stringify({
        k: KEY,
        r: release,
        s,
        ev: [
          { t: 'session', ts: Date.now(), o: 'start' },
          { t: 'flow', ts: Date.now(), n: 'login', o: ok ? 'ok' : 'fail' },
          ...(ok ? [] : [{ t: 'error', ts: Date.now(), ty: 'TypeError', m: `forged ${release}`, st: 'TypeError: forged\n    at x (https://app.example/a.js:1:1)' }]),
        ],
      }),
    }).then((r) => expect(r.status).toBe(202))
  }
  const users = async (release: string, count: number, ok: (i: number) => boolean, subnet: number) => {
    for (let i = 0; i < count; i++) await session(release, ok(i), `203.0.${subnet + (i % 40)}.${10 + (i % 7)}`)
  }
  const look = async () => {
    await c.app.vigil.stored()
    await c.app.vigil.detector.evaluate()
  }
  const verdict = (release: string) => fetch(`${c.url}/v1/releases/${release}/verdict`).then((r) => r.json() as Promise<{ verdict: string }>)

  it('fake failing sessions from one network, or two, do not make a healthy release bad', async () => {
    // Real users of both releases, one in fifty failing as always, from 40 networks each.
    await users('1.0.0', 200, (i) => i % 50 !== 7, 0)
    await users('1.1.0', 200, (i) => i % 50 !== 7, 50)
    // The stranger: 80 sessions whose logins fail and whose pages crash, from one address, then
    // 20 more from another network.
    for (let i = 0; i < 80; i++) await session('1.1.0', false, '198.51.100.9')
    await look()
    expect(await verdict('1.1.0')).not.toMatchObject({ verdict: 'bad' })
    for (let i = 0; i < 20; i++) await session('1.1.0', false, '192.0.2.77')
    await look()
    expect(await verdict('1.1.0')).not.toMatchObject({ verdict: 'bad' })
    expect(c.app.vigil.detector.firing()).toEqual([])
  })

  it('a release whose failures come from many networks is bad', async () => {
    await users('1.2.0', 60, (i) => i % 2 === 0, 100)
    await look()
    expect(await verdict('1.2.0')).toMatchObject({ verdict: 'bad' })
    expect(c.app.vigil.detector.firing().map((a) => a.release)).toContain('1.2.0')
  })

  it('stores the network as a salted hash, never the address', async () => {
    const rows = await storedEvents(c.app.vigil.store, 'default', { release: '1.1.0', limit: 1_000_000 })
    expect(rows.length).toBeGreaterThan(0)
    const nets = new Set(rows.map((r) => r.net))
    expect([...nets].every((x) => /^[0-9a-f]{16}$/.test(x))).toBe(true)
    // 40 networks of real users, and the stranger's two.
    expect(nets.size).toBe(42)
    expect(JSON.stringify(rows)).not.toMatch(/198\.51\.100|203\.0\.|192\.0\./)
  })

  it('says so when X-Forwarded-For comes from a proxy it does not trust', async () => {
    // Started again where this machine is not a trusted proxy: its forwarded addresses are not believed.
    await c.close()
    c = await startCollector({ dataDir: dir.path, projectKey: KEY, evalIntervalMs: 3_600_000, trustProxy: ['192.0.2.1'] })
    const res = await fetch(`${c.url}/v1/ingest`, {
      method: 'POST',
      headers: { 'x-forwarded-for': '203.0.113.5' },
      body: JSON.stringify({ k: KEY, r: 'untrusted', s: 'u', ev: [{ t: 'session', ts: Date.now(), o: 'start' }] }),
    })
    expect(res.status).toBe(202)
    expect(await (await fetch(`${c.url}/healthz`)).json()).toMatchObject({ status: 'degraded', reasons: [expect.stringContaining('not in VIGIL_TRUST_PROXY')] })
    expect(await (await fetch(`${c.url}/metrics`)).text()).toMatch(/^vigil_forwarded_untrusted_total 1$/m)
    await c.app.vigil.stored()
    // Stored as this machine's: no network.
    expect((await storedEvents(c.app.vigil.store, 'default', { release: 'untrusted' })).map((r) => r.net)).toEqual([''])
  })
})
