/**
 * What a start does to the data directory: the schema is created once and upgraded by
 * migrations, the default project's key is generated once and reused, VIGIL_PROJECT_KEY wins.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { buildApp } from '../../collector/src/app.js'
import { loadConfig } from '../../collector/src/config.js'
import { migrations } from '../../collector/src/store/schema.js'
import { startCollector, tempDir } from '../helpers/collector.js'
import { freePort } from '../helpers/freePort.js'

const ingest = (url: string, k: string) =>
  fetch(`${url}/v1/ingest`, { method: 'POST', body: JSON.stringify({ k, r: 'r', s: 's', ev: [{ t: 'flow', ts: Date.now(), n: 'login', o: 'ok' }] }) })

describe('collector start', () => {
  const dir = tempDir()
  afterAll(() => dir.remove())

  it('generates the project key once and reuses it; VIGIL_PROJECT_KEY replaces it', async () => {
    let c = await startCollector({ dataDir: dir.path })
    const generated = c.app.vigil.defaultProject.ingestKey
    expect(generated).toMatch(/^vgl_[A-Za-z0-9]{24}$/)
    expect((await ingest(c.url, generated)).status).toBe(202)
    await c.close()

    c = await startCollector({ dataDir: dir.path })
    expect(c.app.vigil.defaultProject.ingestKey).toBe(generated)
    expect(await c.app.vigil.store.migrate()).toEqual([]) // nothing left to apply
    await c.close()

    c = await startCollector({ dataDir: dir.path, projectKey: 'vgl_chosen_by_the_operator' })
    expect((await ingest(c.url, 'vgl_chosen_by_the_operator')).status).toBe(202)
    expect((await ingest(c.url, generated)).status).toBe(403)
    await c.app.vigil.stored()
    expect(await c.app.vigil.store.countEvents('default')).toBe(2)
    await c.close()
  })

  it('records every migration it applied', async () => {
    const c = await startCollector({ dataDir: dir.path })
    const versions = migrations.map((m) => m.version)
    expect(versions).toEqual([...versions].sort((a, b) => a - b))
    expect(new Set(versions).size).toBe(versions.length)
    await c.close()
  })

  it('with CLICKHOUSE_URL unreachable, accepts into the spool; a working store then gets every event', async () => {
    const port = await freePort()
    const down = tempDir()
    const config = loadConfig({ CLICKHOUSE_URL: `http://127.0.0.1:${port}`, VIGIL_DATA_DIR: down.path, VIGIL_PROJECT_KEY: 'vgl_down_key' })
    expect(config.clickhouse).toMatchObject({ url: `http://127.0.0.1:${port}`, database: 'vigil' })
    const app = await buildApp({ ...config, port: 0 })
    const url = await app.listen({ host: '127.0.0.1', port: 0 })
    for (let i = 0; i < 5; i++) expect((await ingest(url, 'vgl_down_key')).status).toBe(202)
    const health = (await (await fetch(`${url}/healthz`)).json()) as { storageReachable: boolean; spoolBytes: number }
    expect(health.storageReachable).toBe(false)
    expect(health.spoolBytes).toBeGreaterThan(0)
    // Reading needs the store: a coded 503, not a 500.
    const releases = await fetch(`${url}/v1/releases`)
    expect(releases.status).toBe(503)
    expect(await releases.json()).toMatchObject({ code: 'VIGIL_STORE_UNAVAILABLE' })
    await app.close()

    // A small spool fills up: then intake says so, with a time to come back, and keeps serving.
    const tiny = await buildApp({ ...config, port: 0, spoolMaxBytes: 1500 })
    const tinyUrl = await tiny.listen({ host: '127.0.0.1', port: 0 })
    const statuses: number[] = []
    let full: Response | undefined
    for (let i = 0; i < 20 && !full; i++) {
      const res = await ingest(tinyUrl, 'vgl_down_key')
      statuses.push(res.status)
      if (res.status === 503) full = res
    }
    expect(full).toBeDefined()
    expect(await full!.json()).toMatchObject({ code: 'VIGIL_SPOOL_FULL' })
    expect(Number(full!.headers.get('retry-after'))).toBeGreaterThan(0)
    const accepted = statuses.filter((x) => x === 202).length
    expect(accepted).toBeGreaterThan(0)
    expect((await fetch(`${tinyUrl}/healthz`)).status).toBe(200)
    await tiny.close()

    // A working store on the same data directory: the spool drains into it.
    const c = await startCollector({ dataDir: down.path, projectKey: 'vgl_down_key' })
    await c.app.vigil.stored()
    expect(await c.app.vigil.store.countEvents('default', { release: 'r' })).toBe(5 + accepted)
    expect(c.app.vigil.spool.bytes()).toBe(0)
    await c.close()
    down.remove()
  })

  it('refuses a malformed port instead of guessing', () => {
    expect(() => loadConfig({ VIGIL_PORT: 'eighty' })).toThrow(/VIGIL_PORT/)
  })
})
