/**
 * `vigil gate` in a deploy pipeline: a collector that is down, restarting, overloaded or not a
 * collector at all never reads as "bad release" (exit 1). No answer at all is exit 3; the gate
 * retries through restarts and 5xx until its deadline, and gives up at once on a wrong token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli.js'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'
import { freePort } from '../helpers/freePort.js'
import { startReceiver } from '../helpers/receiver.js'
import { sendSessions } from '../helpers/sessions.js'
import { waitFor } from '../helpers/waitFor.js'

const KEY = 'vgl_gate_key'
const TOKEN = 'gate-admin-token'
const NO_ANSWER = 3

describe('vigil gate when the collector cannot answer', () => {
  const dir = tempDir()
  let port: number
  let c: Running
  const start = () => startCollector({ dataDir: dir.path, port, projectKey: KEY, adminToken: TOKEN, evalIntervalMs: 3_600_000 })

  beforeAll(async () => {
    port = await freePort()
    c = await start()
  })
  afterAll(async () => {
    await c?.close()
    dir.remove()
  })

  it('exits 3, not 1, when nothing listens, once its deadline passes', async () => {
    const r = await runCli(`http://127.0.0.1:${await freePort()}`, ['gate', '--release', '1.0.0', '--wait', '1s'])
    expect(r.code).toBe(NO_ANSWER)
    expect(r.out).toBe('')
    expect(r.err).toContain('ECONNREFUSED')
    expect(r.err).toMatch(/retrying in/)
    expect(r.err).toMatch(/giving up/)
  })

  it('exits 3 at once, without retrying, on a wrong token', async () => {
    // A retrying gate would still be waiting when the test's own timeout ends it.
    const r = await runCli(c.url, ['gate', '--release', '1.0.0', '--wait', '10m', '--token', 'not-the-token'])
    expect(r.code).toBe(NO_ANSWER)
    expect(r.err).toContain('401 VIGIL_LOGIN_REQUIRED')
    expect(r.err).toContain('not the collector')
    expect(r.err).not.toMatch(/retrying/)
  })

  it('waits through a collector restart and then gives the verdict', async () => {
    const gate = runCli(c.url, ['gate', '--release', 'g-1', '--wait', '60s', '--interval', '200ms', '--token', TOKEN])
    let err = ''
    gate.child.stderr!.on('data', (d: Buffer) => (err += String(d)))
    await waitFor('the gate to ask', () => err.includes('g-1 (production) is unknown'))
    await c.close()
    await waitFor('the gate to find the collector gone', () => err.includes('cannot reach it'))
    c = await start()
    // A healthy g-1: enough good logins against g-0's, which served just before.
    expect(await sendSessions(c.url, KEY, Array.from({ length: 40 }, () => ['g-0', true]))).toBe(202)
    await new Promise((r) => setTimeout(r, 20))
    expect(await sendSessions(c.url, KEY, Array.from({ length: 200 }, () => ['g-1', true]))).toBe(202)
    await c.app.vigil.stored()
    await c.app.vigil.detector.evaluate()
    const r = await gate
    expect(r.code).toBe(0)
    expect(r.out).toContain('g-1 (production): healthy')
  })

  it('retries a 503 (after its Retry-After) and exits with the verdict that follows, without --wait', async () => {
    const rx = await startReceiver()
    rx.answer(503, JSON.stringify({ statusCode: 503, code: 'VIGIL_STORE_UNAVAILABLE', message: 'Storage is unavailable, retry later' }), { 'content-type': 'application/json', 'retry-after': '1' })
    const gate = runCli(rx.origin, ['gate', '--release', '2.0.0'])
    await waitFor('the first ask', () => rx.received.length > 0)
    const verdict = { project: 'default', environment: 'production', release: '2.0.0', verdict: 'healthy', reasons: ['healthy: login'], baseline: null, sessions: 300, evaluated_at: new Date().toISOString() }
    rx.answer(200, JSON.stringify(verdict), { 'content-type': 'application/json' })
    const r = await gate
    await rx.close()
    expect(r.code).toBe(0)
    expect(r.out).toContain('2.0.0 (production): healthy')
    expect(r.err).toContain('503 VIGIL_STORE_UNAVAILABLE')
    expect(r.err).toContain('Retry-After')
    expect(rx.received[0]!.path).toBe('/v1/releases/2.0.0/verdict?env=production&project=default')
  })

  it('exits 3 on an answer that is not JSON (a proxy page, a wrong --url)', async () => {
    const rx = await startReceiver()
    rx.answer(200, '<html><body>Down for maintenance</body></html>', { 'content-type': 'text/html' })
    const r = await runCli(rx.origin, ['gate', '--release', '2.0.0', '--wait', '1s'])
    await rx.close()
    expect(r.code).toBe(NO_ANSWER)
    expect(r.out).toBe('')
    expect(r.err).toContain('not JSON')
  })
})
