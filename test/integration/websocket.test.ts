/**
 * WebSocket ingest (GET /v1/ws) as devices use it, and the documented Node device example run
 * as a real child process against a real collector.
 */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'
import { countEvents, storedEvents } from '../helpers/storeQueries.js'

const KEY = 'vgl_websocket_test_key'

describe('GET /v1/ws', () => {
  const dir = tempDir()
  let c: Running
  let ws: WebSocket
  const acks: Record<string, unknown>[] = []

  beforeAll(async () => {
    c = await startCollector({ dataDir: dir.path, projectKey: KEY })
    ws = new WebSocket(`${c.url.replace('http', 'ws')}/v1/ws?key=${KEY}`)
    ws.on('message', (d) => acks.push(JSON.parse(String(d)) as Record<string, unknown>))
    await new Promise((r) => ws.once('open', r))
  })
  afterAll(async () => {
    ws?.close()
    await c?.close()
    dir.remove()
  })

  const send = async (message: string | object) => {
    const n = acks.length
    ws.send(typeof message === 'string' ? message : JSON.stringify(message))
    while (acks.length === n) await new Promise((r) => setTimeout(r, 10))
    return acks[n]!
  }
  const flow = (o: string) => ({ t: 'flow', ts: Date.now(), n: 'playback', o })

  it('acknowledges each batch with its id and what HTTP would answer', async () => {
    expect(await send({ id: 'ws-1', r: 'tv-1', s: 's1', ev: [flow('ok'), flow('fail'), { t: 'flow' }] })).toMatchObject({
      id: 'ws-1',
      status: 202,
      accepted: 2,
      rejected: 1,
    })
    expect(await send({ id: 'ws-1', r: 'tv-1', s: 's1', ev: [flow('ok')] })).toMatchObject({ id: 'ws-1', status: 202, duplicate: true })
    await c.app.vigil.stored()
    expect(await countEvents(c.app.vigil.store, 'default', { release: 'tv-1' })).toBe(2)
  })

  it('refuses bad messages with a code, and keeps the connection', async () => {
    expect(await send('{not json')).toMatchObject({ status: 400, code: 'VIGIL_INVALID_JSON' })
    expect(await send({ id: 'ws-2', ev: [] })).toMatchObject({ id: 'ws-2', status: 400, code: 'VIGIL_INVALID_BATCH' })
    expect(await send({ id: 'ws-3', k: 'vgl_wrong', ev: [flow('ok')] })).toMatchObject({ id: 'ws-3', status: 403, code: 'VIGIL_UNKNOWN_KEY' })
    expect(ws.readyState).toBe(WebSocket.OPEN)
    const metrics = await (await fetch(`${c.url}/metrics`)).text()
    expect(metrics).toMatch(/^vigil_batches_refused_total\{code="VIGIL_INVALID_JSON"\} 1$/m)
  })

  it('refuses a connection without a key per batch, and other upgrade paths', async () => {
    const anon = new WebSocket(`${c.url.replace('http', 'ws')}/v1/ws`)
    await new Promise((r) => anon.once('open', r))
    const ack = await new Promise<Record<string, unknown>>((r) => {
      anon.once('message', (d) => r(JSON.parse(String(d)) as Record<string, unknown>))
      anon.send(JSON.stringify({ id: 'anon', ev: [flow('ok')] }))
    })
    expect(ack).toMatchObject({ status: 401, code: 'VIGIL_MISSING_KEY' })
    anon.close()
    const wrong = new WebSocket(`${c.url.replace('http', 'ws')}/elsewhere`)
    await expect(new Promise((_, reject) => wrong.once('error', reject))).rejects.toThrow(/404/)
  })

  it('carries the documented Node device example end to end', async () => {
    const store = join(dir.path, 'device.json')
    const run = () =>
      new Promise<{ code: number; out: string }>((resolve) => {
        execFile(
          process.execPath,
          [join(import.meta.dirname, '../../examples/node-device.mjs')],
          { env: { ...process.env, VIGIL_KEY: KEY, VIGIL_URL: `${c.url.replace('http', 'ws')}/v1/ws`, VIGIL_RELEASE: 'box-2.3.0', VIGIL_STORE: store }, timeout: 60_000 },
          (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
        )
      })
    const first = await run()
    expect(first).toMatchObject({ code: 0 })
    expect(first.out).toContain('vigil: delivered')
    await c.app.vigil.stored()
    const rows = await storedEvents(c.app.vigil.store, 'default', { release: 'box-2.3.0' })
    const flows = Object.fromEntries(rows.filter((e) => e.kind === 'flow').map((e) => [e.name, e]))
    expect(flows['offline-playback']).toMatchObject({ outcome: 'fail', reason: 'license expired while offline', step: 'open-cached-media' })
    expect(flows.download).toMatchObject({ outcome: 'ok' })
    expect(rows.find((e) => e.kind === 'error')).toMatchObject({ message: 'decoder reset after 3 retries', handled: 1 })
    // The device keeps its session in its own storage: a second run is the same session.
    await run()
    await c.app.vigil.stored()
    const sessions = new Set((await storedEvents(c.app.vigil.store, 'default', { release: 'box-2.3.0' })).map((e) => e.session))
    expect(sessions.size).toBe(1)
  })
})
