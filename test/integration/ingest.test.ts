/**
 * The ingest API over real HTTP on 127.0.0.1 with embedded ClickHouse in a temp dir: what is
 * kept, what is refused with which status and code, and that every refusal is counted.
 */
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'
import { metricValue } from '../helpers/metrics.js'
import { countEvents, storedEvents } from '../helpers/storeQueries.js'

const KEY = 'vgl_integration_test_key_0001'

describe('POST /v1/ingest', () => {
  const dir = tempDir()
  let c: Running

  beforeAll(async () => {
    c = await startCollector({ dataDir: dir.path, projectKey: KEY })
  })
  afterAll(async () => {
    await c?.close()
    dir.remove()
  })

  const post = (body: string | object, headers: Record<string, string> = { 'content-type': 'text/plain' }) =>
    fetch(`${c.url}/v1/ingest`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) })
  const now = () => Date.now()
  const flow = (o: string, extra: object = {}) => ({ t: 'flow', ts: now(), n: 'checkout', o, ...extra })
  // Accepted means on disk in the spool; stored() waits until ClickHouse has it.
  const count = async (release: string) => {
    await c.app.vigil.stored()
    return countEvents(c.app.vigil.store, 'default', { release })
  }
  const metric = (name: string, label: string) => metricValue(c.url, name, label)

  it('keeps the valid part of a batch and says why the rest was refused', async () => {
    const res = await post({
      k: KEY,
      id: 'partial-1',
      r: 'p-1',
      s: 'sess-1',
      ev: [flow('ok'), { t: 'flow', ts: now(), n: 'checkout' }, { t: 'nope', ts: now() }, flow('fail', { re: 'card declined' }), 42],
    })
    expect(res.status).toBe(202)
    const body = (await res.json()) as { accepted: number; rejected: number; errors: { index: number; code: string }[] }
    expect(body).toMatchObject({ accepted: 2, rejected: 3 })
    expect(body.errors.map((e) => [e.index, e.code])).toEqual([
      [1, 'invalid_event'],
      [2, 'unknown_type'],
      [4, 'invalid_event'],
    ])
    expect(await count('p-1')).toBe(2)
    expect(await metric('vigil_events_refused_total', 'reason="invalid_event"')).toBe(2)
    expect(await metric('vigil_events_refused_total', 'reason="unknown_type"')).toBe(1)
  })

  it('takes requests as endpoints (method in capitals, ids as placeholders), and refuses what is no endpoint', async () => {
    const req = (n: string, extra: object = {}) => ({ t: 'request', ts: now(), n, o: 'ok', c: 3, ...extra })
    const res = await post({
      k: KEY,
      id: 'req-1',
      r: 'req-1',
      s: 's',
      ev: [
        req('get /api/users/123/orders/5f0c8a2e-1b3c-4d5e-8f90-a1b2c3d4e5f6'),
        req('POST https://api.example.com/v2/carts/98765', { o: 'fail', sc: 503, d: 120 }),
        // A data: URL is content, not an endpoint; a name of megabytes would fill the collector's caches.
        req('GET data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk'),
        req(`GET /${'a'.repeat(3000)}`),
        req('GET /api/plans', { c: 1e9 }),
      ],
    })
    expect(res.status).toBe(202)
    expect(((await res.json()) as { errors: { index: number; code: string }[] }).errors.map((e) => [e.index, e.code])).toEqual([
      [2, 'invalid_event'],
      [3, 'invalid_event'],
      [4, 'invalid_event'],
    ])
    await c.app.vigil.stored()
    const rows = await storedEvents(c.app.vigil.store, 'default', { release: 'req-1' })
    expect(rows.map((r) => [r.name, r.outcome, r.value, r.reason]).sort()).toEqual([
      ['GET /api/users/:id/orders/:uuid', 'ok', 3, ''],
      ['POST https://api.example.com/v2/carts/:id', 'fail', 120, '503'],
    ])
  })

  it('bounds the flags a session names in a batch, and keeps control characters out of environments, releases and flags', async () => {
    const flags = Array.from({ length: 25 }, (_, i) => ({ t: 'flag', ts: now(), n: `f${i}`, v: 'on' }))
    // Again a flag it named already: not a new one. And a flag whose name and variant carry control characters.
    const res = await post({ k: KEY, id: 'flags-1', r: 'fl\u0001-1', e: 'x\u0001y', s: 's', ev: [...flags, { t: 'flag', ts: now(), n: 'f3', v: 'off' }, { t: 'flag', ts: now(), n: 'a\u0001b', v: 'c\u0000' }] })
    expect(res.status).toBe(202)
    const { errors } = (await res.json()) as { errors: { index: number; code: string }[] }
    expect(errors.map((e) => [e.index, e.code])).toEqual([20, 21, 22, 23, 24, 26].map((i) => [i, 'too_many_flags']))
    expect(await metric('vigil_events_refused_total', 'reason="too_many_flags"')).toBe(6)
    await c.app.vigil.stored()
    const rows = await storedEvents(c.app.vigil.store, 'default', { release: 'fl-1' })
    expect(rows.length).toBe(21)
    expect(new Set(rows.map((r) => r.env))).toEqual(new Set(['xy']))
    // A flag's name and variant lose their control characters too (the detector keys cohorts with one).
    expect(await post({ k: KEY, id: 'flags-2', r: 'fl-2', s: 's', ev: [{ t: 'flag', ts: now(), n: 'a\u0001b', v: 'c\u0000d' }] }).then((r) => r.status)).toBe(202)
    await c.app.vigil.stored()
    expect((await storedEvents(c.app.vigil.store, 'default', { release: 'fl-2' })).map((r) => [r.name, r.outcome])).toEqual([['ab', 'cd']])
  })

  it('refuses numbers no column can hold (1e309 is Infinity), keeps the rest, and goes on storing', async () => {
    // The request that used to stop all storage: Infinity in `at` and `ts`, and NaN between them.
    const poison = await post(`{"k":"${KEY}","id":"inf-1","r":"inf","s":"s","at":1e309,"ev":[{"t":"flow","ts":1e309,"n":"login","o":"ok"}]}`)
    expect(poison.status).toBe(400)
    expect(await poison.json()).toMatchObject({ code: 'VIGIL_NO_VALID_EVENTS' })
    // In a batch with good events: the bad ones refused by index, a bad `at` ignored, the rest kept with their times.
    const mixed = await post(
      `{"k":"${KEY}","id":"inf-2","r":"inf","s":"s","at":1e309,"ev":[{"t":"flow","ts":${now()},"n":"login","o":"ok","d":1e309},` +
        `{"t":"vital","ts":${now()},"n":"LCP","v":1e309},{"t":"session","ts":-1e309,"o":"ok"},{"t":"flow","ts":${now()},"n":"login","o":"ok","d":1200}]}`,
    )
    expect(mixed.status).toBe(202)
    expect(((await mixed.json()) as { errors: { index: number; code: string }[] }).errors.map((e) => [e.index, e.code])).toEqual([
      [0, 'invalid_event'],
      [1, 'invalid_event'],
      [2, 'invalid_event'],
    ])
    expect(await count('inf')).toBe(1)
    // Storage goes on for everyone.
    expect((await post({ k: KEY, id: 'after-inf', r: 'after-inf', s: 's', ev: [flow('ok')] })).status).toBe(202)
    expect(await count('after-inf')).toBe(1)
  })

  it('stores a batch sent twice once', async () => {
    const batch = { k: KEY, id: 'dup-1', r: 'dup', s: 'sess-2', ev: [flow('ok'), flow('ok')] }
    const [a, b] = await Promise.all([post(batch), post(batch)])
    expect([a.status, b.status]).toEqual([202, 202])
    const third = await post(batch)
    expect(((await third.json()) as { duplicate?: boolean }).duplicate).toBe(true)
    expect(await count('dup')).toBe(2)
    const text = await (await fetch(`${c.url}/metrics`)).text()
    expect(text).toMatch(/^vigil_batches_duplicate_total 2$/m)
  })

  it('counts the events an agent dropped once a batch, not again when the batch comes again', async () => {
    const before = await metric('vigil_events_refused_total', 'reason="agent_outbox_full"')
    const batch = { k: KEY, id: 'dropped-1', r: 'dropped', s: 's', dr: 7, ev: [flow('ok')] }
    expect((await post(batch)).status).toBe(202)
    expect(((await (await post(batch)).json()) as { duplicate?: boolean }).duplicate).toBe(true)
    // Not a number of events: ignored.
    expect((await post({ ...batch, id: 'dropped-2', dr: 1.5 })).status).toBe(202)
    expect(await metric('vigil_events_refused_total', 'reason="agent_outbox_full"')).toBe(before + 7)
  })

  it('corrects the agent clock and keeps the original time of an event made offline', async () => {
    const agentNow = now() - 3600_000 // the device's clock is an hour behind
    const res = await post({ k: KEY, id: 'skew-1', r: 'skew', s: 's', at: agentNow, ev: [{ ...flow('fail'), ts: agentNow - 10 * 60_000 }] })
    expect(res.status).toBe(202)
    await c.app.vigil.stored()
    const row = (await c.app.vigil.store.detector.releases('default')).find((r) => r.release === 'skew')
    // Made ten minutes before it was sent, by our clock.
    expect(Math.abs(row!.firstSeen - (now() - 10 * 60_000))).toBeLessThan(5000)
  })

  it('cuts long strings instead of refusing them', async () => {
    const res = await post({ k: KEY, id: 'long-1', r: 'long', s: 's', ev: [{ t: 'error', ts: now(), ty: 'Error', m: 'x'.repeat(100_000) }] })
    expect(res.status).toBe(202)
    expect(await count('long')).toBe(1)
  })

  it('answers cross-origin agents: preflight and simple requests', async () => {
    const pre = await fetch(`${c.url}/v1/ingest`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } })
    expect(pre.status).toBe(204)
    expect(pre.headers.get('access-control-allow-origin')).toBe('*')
    expect(pre.headers.get('access-control-allow-headers')).toContain('x-vigil-key')
    const res = await post({ id: 'hdr-1', r: 'hdr', s: 's', ev: [flow('ok')] }, { 'content-type': 'application/json', 'x-vigil-key': KEY, origin: 'https://app.example' })
    expect(res.status).toBe(202)
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
  })

  const raw = (body: Buffer, headers: Record<string, string>) => fetch(`${c.url}/v1/ingest`, { method: 'POST', headers, body: new Uint8Array(body) })
  const ok = (extra: object = {}) => JSON.stringify({ k: KEY, r: 'bad-corpus', s: 's', ev: [flow('ok', extra)] })
  const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth)

  const refusals: [string, () => Promise<Response>, number, string][] = [
    ['a 10 MB body', () => post({ k: KEY, ev: [flow('ok', { re: 'x'.repeat(10 * 1024 * 1024) })] }), 413, 'VIGIL_BODY_TOO_LARGE'],
    ['a 100k-event batch', () => post({ k: KEY, ev: Array.from({ length: 100_000 }, () => ({ t: 'flow', ts: 1, n: 'x', o: 'ok' })) }), 413, 'VIGIL_BODY_TOO_LARGE'],
    ['deep nesting', () => post(`{"k":"${KEY}","ev":[{"t":"flow","ts":${now()},"n":"x","o":"ok","x":${nested(40)}}]}`), 400, 'VIGIL_TOO_DEEP'],
    ['nesting 100,000 deep', () => post(`{"k":"${KEY}","ev":[{"t":"flow","ts":${now()},"n":"x","o":"ok","x":${nested(100_000)}}]}`), 400, 'VIGIL_TOO_DEEP'],
    ['a gzip bomb', () => raw(gzipSync(Buffer.alloc(50 * 1024 * 1024, 32)), { 'content-type': 'text/plain', 'content-encoding': 'gzip' }), 413, 'VIGIL_BODY_TOO_LARGE'],
    ['a body that is not the gzip it claims', () => raw(Buffer.from(ok()), { 'content-type': 'text/plain', 'content-encoding': 'gzip' }), 400, 'VIGIL_BAD_ENCODING'],
    ['an unknown content encoding', () => raw(Buffer.from(ok()), { 'content-type': 'text/plain', 'content-encoding': 'compress' }), 415, 'VIGIL_UNSUPPORTED_MEDIA_TYPE'],
    ['a gzipped batch', () => raw(gzipSync(ok()), { 'content-type': 'text/plain', 'content-encoding': 'gzip' }), 202, ''],
    ['invalid UTF-8 that breaks the JSON', () => raw(Buffer.concat([Buffer.from(`{"k":"${KEY}","ev":[`), Buffer.from([0xff, 0xfe]), Buffer.from(']}')]), { 'content-type': 'text/plain' }), 400, 'VIGIL_INVALID_JSON'],
    ['constructor and prototype keys', () => post(`{"k":"${KEY}","constructor":{"prototype":{"polluted":1}},"ev":[{"t":"flow","ts":${now()},"n":"x","o":"ok","constructor":{"prototype":{"polluted":1}}}]}`), 202, ''],
    ['unknown fields (ignored)', () => post({ k: KEY, future: { x: 1 }, ev: [flow('ok', { newField: [1, 2, 3] })] }), 202, ''],
    ['malformed JSON', () => post('{"k": "x", "ev": [}'), 400, 'VIGIL_INVALID_JSON'],
    ['an unsupported media type', () => post('k=1', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'VIGIL_UNSUPPORTED_MEDIA_TYPE'],
    ['an empty batch', () => post({ k: KEY, ev: [] }), 400, 'VIGIL_INVALID_BATCH'],
    ['events that are not a list', () => post({ k: KEY, ev: { t: 'flow' } }), 400, 'VIGIL_INVALID_BATCH'],
    ['a wrongly typed envelope field', () => post({ k: KEY, r: 7, ev: [flow('ok')] }), 400, 'VIGIL_INVALID_BATCH'],
    ['too many events', () => post({ k: KEY, ev: Array.from({ length: 1001 }, () => flow('ok')) }), 400, 'VIGIL_INVALID_BATCH'],
    ['a body over the size limit', () => post({ k: KEY, ev: [flow('ok', { re: 'x'.repeat(2 * 1024 * 1024) })] }), 413, 'VIGIL_BODY_TOO_LARGE'],
    ['no key', () => post({ ev: [flow('ok')] }), 401, 'VIGIL_MISSING_KEY'],
    ['an unknown key', () => post({ k: 'vgl_wrong', ev: [flow('ok')] }), 403, 'VIGIL_UNKNOWN_KEY'],
    ['only invalid events', () => post({ k: KEY, ev: [{ t: 'flow', ts: 'yesterday' }] }), 400, 'VIGIL_NO_VALID_EVENTS'],
    ['events older than retention', () => post({ k: KEY, ev: [{ ...flow('ok'), ts: now() - 40 * 86400_000 }] }), 400, 'VIGIL_NO_VALID_EVENTS'],
    ['a non-object body', () => post('[1,2,3]'), 400, 'VIGIL_INVALID_BATCH'],
    ['__proto__ keys', () => post(`{"k":"${KEY}","__proto__":{"polluted":1},"ev":[{"t":"flow","ts":${now()},"n":"x","o":"ok","__proto__":{"a":1}}]}`), 202, ''],
  ]

  for (const [what, send, status, code] of refusals) {
    it(`answers ${what} with ${status}${code ? ` ${code}` : ''}`, async () => {
      const before = code ? await metric('vigil_batches_refused_total', `code="${code}"`) : 0
      const res = await send()
      expect(res.status).toBe(status)
      const body = (await res.json()) as { code?: string; message?: string; statusCode?: number }
      if (code) {
        expect(body).toMatchObject({ statusCode: status, code })
        expect(body.message).toBeTruthy()
        expect(await metric('vigil_batches_refused_total', `code="${code}"`)).toBe(before + 1)
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined()
      expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined()
    })
  }

  it('keeps events whose strings hold invalid UTF-8, with the bad bytes replaced', async () => {
    const head = Buffer.from(`{"k":"${KEY}","r":"utf8","s":"s","ev":[{"t":"error","ts":${now()},"ty":"Error","m":"bad `)
    const res = await raw(Buffer.concat([head, Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(' bytes"}]}')]), { 'content-type': 'text/plain' })
    expect(res.status).toBe(202)
    await c.app.vigil.stored()
    const [row] = await storedEvents(c.app.vigil.store, 'default', { release: 'utf8' })
    expect(row!.message).toBe('bad \ufffd(\ufffd bytes')
  })

  it('enriches events: browser, OS and device from the user agent, the page as a route', async () => {
    const res = await fetch(`${c.url}/v1/ingest`, {
      method: 'POST',
      headers: {
        'content-type': 'text/plain',
        'user-agent': 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36',
      },
      body: JSON.stringify({ k: KEY, r: 'enrich', s: 's', ev: [{ ...flow('ok'), u: 'https://shop.example/users/12345/orders/0b4f2a1e-7c1d-4f7e-9a2b-3c4d5e6f7a8b?tab=2' }] }),
    })
    expect(res.status).toBe(202)
    await c.app.vigil.stored()
    const [row] = await storedEvents(c.app.vigil.store, 'default', { release: 'enrich' })
    expect(row).toMatchObject({ browser: 'Chrome 156', os: 'Android 14', device: 'mobile', route: '/users/:id/orders/:uuid', url: 'https://shop.example/users/12345/orders/0b4f2a1e-7c1d-4f7e-9a2b-3c4d5e6f7a8b' })
  })

  it('is still serving after all of that', async () => {
    const res = await fetch(`${c.url}/healthz`)
    expect(await res.json()).toMatchObject({ status: 'ok', storage: 'embedded', storageReachable: true })
  })

  it('answers unknown routes with a coded 404', async () => {
    const res = await fetch(`${c.url}/v1/nothing`)
    expect(res.status).toBe(404)
    expect(await res.json()).toMatchObject({ code: 'VIGIL_NOT_FOUND' })
  })
})
