/**
 * What a start does to the data directory: the schema is created once and upgraded by
 * migrations, the default project's key is generated once and reused, VIGIL_PROJECT_KEY wins.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { buildApp } from '../../collector/src/app.js'
import { loadConfig } from '../../collector/src/config.js'
import { spoolRecord } from '../../collector/src/spool/record.js'
import { migrations } from '../../collector/src/store/schema.js'
import { startCollector, tempDir } from '../helpers/collector.js'
import { eventRow } from '../helpers/eventRow.js'
import { waitFor } from '../helpers/waitFor.js'
import { countEvents } from '../helpers/storeQueries.js'

const ingest = (url: string, k: string, id?: string) =>
  fetch(`${url}/v1/ingest`, { method: 'POST', body: JSON.stringify({ k, id, r: 'r', s: 's', ev: [{ t: 'flow', ts: Date.now(), n: 'login', o: 'ok' }] }) })

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
    expect(await countEvents(c.app.vigil.store, 'default')).toBe(2)
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
    // A port held by a listener that drops every connection: no other test's server can take it.
    const holder = createServer((socket) => socket.destroy())
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r))
    const { port } = holder.address() as AddressInfo
    const down = tempDir()
    const config = loadConfig({ CLICKHOUSE_URL: `http://127.0.0.1:${port}`, VIGIL_DATA_DIR: down.path, VIGIL_PROJECT_KEY: 'vgl_down_key' })
    expect(config.clickhouse).toMatchObject({ url: `http://127.0.0.1:${port}`, database: 'vigil' })
    // An event accepted ten minutes ago by a collector that stopped before storing it.
    const tenMinutesAgo = Date.now() - 600_000
    mkdirSync(join(down.path, 'spool'), { recursive: true })
    writeFileSync(join(down.path, 'spool', `${String(tenMinutesAgo).padStart(15, '0')}-0000cafe-00000000.seg`), spoolRecord([eventRow({ release: 'r', kind: 'flow', ts: tenMinutesAgo, session: 'old', name: 'login', outcome: 'ok' })]))
    // Looks due every 50 ms, each failing without storage.
    const app = await buildApp({ ...config, port: 0, evalIntervalMs: 50 })
    const url = await app.listen({ host: '127.0.0.1', port: 0 })
    for (let i = 0; i < 5; i++) expect((await ingest(url, 'vgl_down_key', `kept-${i}`)).status).toBe(202)
    type Health = { status: string; reasons: string[]; storageReachable: boolean; spoolBytes: number; drainLagSeconds: number; detectorLagSeconds: number }
    const health = await waitFor('the detector to be behind', async () => {
      const h = (await (await fetch(`${url}/healthz`)).json()) as Health
      return h.reasons.some((r) => r.includes('detector')) && h
    })
    expect(health.storageReachable).toBe(false)
    expect(health.spoolBytes).toBeGreaterThan(0)
    // Said as it is: storage away, the drain ten minutes behind, the detector behind.
    expect(health).toMatchObject({ status: 'degraded', reasons: expect.arrayContaining([expect.stringContaining('the drain is behind'), expect.stringMatching(/detector's last look .* behind/)]) })
    expect(health.drainLagSeconds).toBeGreaterThanOrEqual(600)
    const metrics = await (await fetch(`${url}/metrics`)).text()
    expect(Number(/^vigil_drain_lag_seconds (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(600)
    expect(metrics).toMatch(/^vigil_detector_look_seconds_count\{result="failed"\} [1-9]/m)
    // Reading needs the store: a coded 503, not a 500.
    const releases = await fetch(`${url}/v1/releases`)
    expect(releases.status).toBe(503)
    expect(await releases.json()).toMatchObject({ code: 'VIGIL_STORE_UNAVAILABLE' })
    await app.close()

    // A small spool fills up: then intake says so, with a time to come back, and keeps serving.
    const tiny = await buildApp({ ...config, port: 0, spoolMaxBytes: 1500 })
    const tinyUrl = await tiny.listen({ host: '127.0.0.1', port: 0 })
    // A batch still in the spool from before the restart, sent again: recognised, not stored twice.
    expect(await (await ingest(tinyUrl, 'vgl_down_key', 'kept-3')).json()).toMatchObject({ duplicate: true })
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
    expect(await countEvents(c.app.vigil.store, 'default', { release: 'r' })).toBe(1 + 5 + accepted)
    expect(c.app.vigil.spool.bytes()).toBe(0)
    await c.close()
    down.remove()
    holder.close()
  })

  it('refuses a malformed port instead of guessing', () => {
    expect(() => loadConfig({ VIGIL_PORT: 'eighty' })).toThrow(/VIGIL_PORT/)
  })
})
