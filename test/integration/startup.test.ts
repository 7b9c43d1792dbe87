/**
 * What a start does to the data directory: the schema is created once and upgraded by
 * migrations, the default project's key is generated once and reused, VIGIL_PROJECT_KEY wins.
 */
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { buildApp } from '../../collector/src/app.js'
import { loadConfig } from '../../collector/src/config.js'
import { migrations } from '../../collector/src/store/schema.js'
import { startCollector, tempDir } from '../helpers/collector.js'

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

  it('with CLICKHOUSE_URL talks to that server, and says so when it cannot be reached', async () => {
    // A port that was just free and is closed now: nothing listens there.
    const probe = createServer()
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
    const { port } = probe.address() as AddressInfo
    await new Promise((r) => probe.close(r))
    const config = loadConfig({ CLICKHOUSE_URL: `http://127.0.0.1:${port}`, VIGIL_DATA_DIR: dir.path })
    expect(config.clickhouse).toEqual({ url: `http://127.0.0.1:${port}`, database: 'vigil', username: undefined, password: undefined })
    await expect(buildApp(config)).rejects.toThrow(/ECONNREFUSED|connect/i)
  })

  it('refuses a malformed port instead of guessing', () => {
    expect(() => loadConfig({ VIGIL_PORT: 'eighty' })).toThrow(/VIGIL_PORT/)
  })
})
