/**
 * Sentry's intake over real HTTP on 127.0.0.1 with embedded ClickHouse, with what the real SDKs
 * send beyond the browser's (test/e2e/sentry-sdk.test.ts): the key in X-Sentry-Auth or in a
 * tunnelled envelope's DSN, /store/, gzip, session aggregates, transactions a project names as
 * flows, client reports, rate limits as Sentry's SDKs read them, retries stored once; and the
 * bad-input corpus — each a clear 4xx or a counted ignore, never a 500, the valid items kept.
 */
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { collectorForTests } from '../helpers/collector.js'
import { metricValue } from '../helpers/metrics.js'
import { storedEvents } from '../helpers/storeQueries.js'

const KEY = 'vgl_sentry_intake_key_0001'
const RELEASE = (n: string) => ({ release: `s-${n}`, environment: 'production' })

type Item = [Record<string, unknown>, string | Buffer]
/** An envelope as Sentry's SDKs write one: a header line, then each item's header line and payload. */
const envelope = (header: Record<string, unknown>, ...items: Item[]): Buffer =>
  Buffer.concat([Buffer.from(JSON.stringify(header)), ...items.flatMap(([h, p]) => [Buffer.from(`\n${JSON.stringify(h)}\n`), Buffer.from(p)])])
const json = (type: string, payload: object): Item => {
  const body = JSON.stringify(payload)
  return [{ type, length: Buffer.byteLength(body) }, body]
}
const id = () => crypto.randomUUID().replace(/-/g, '')
const now = () => Date.now() / 1000
const error = (release: string, extra: object = {}) => ({
  event_id: id(),
  timestamp: now(),
  ...RELEASE(release),
  exception: { values: [{ type: 'RangeError', value: 'Invalid array length', stacktrace: { frames: [{ filename: 'https://shop.example/assets/app.js', function: 'render', lineno: 1, colno: 42 }] }, mechanism: { type: 'generic', handled: true } }] },
  ...extra,
})
const session = (release: string, sid: string, extra: object = {}) => ({ sid, init: true, started: new Date().toISOString(), timestamp: new Date().toISOString(), status: 'ok', errors: 0, attrs: RELEASE(release), ...extra })

describe('Sentry envelopes', () => {
  const collector = collectorForTests({ projectKey: KEY })

  const post = (body: Buffer | string, { path = `/api/1/envelope/?sentry_key=${KEY}`, headers = {} as Record<string, string> } = {}) =>
    fetch(`${collector().url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-sentry-envelope', ...headers }, body: typeof body === 'string' ? body : new Uint8Array(body) })
  const rows = async (release: string) => {
    await collector().app.vigil.stored()
    return storedEvents(collector().app.vigil.store, 'default', { release: `s-${release}` })
  }
  const metric = (name: string, labels: string) => metricValue(collector().url, name, labels)

  it('takes the key from the query, X-Sentry-Auth, or the DSN of a tunnelled envelope; /store/ and gzip too; any project id', async () => {
    const ev = error('keys')
    const byQuery = await post(envelope({ event_id: ev.event_id }, json('event', ev)))
    expect(byQuery.status).toBe(200)
    expect(await byQuery.json()).toMatchObject({ id: ev.event_id, accepted: 1 })
    const auth = { 'x-sentry-auth': `Sentry sentry_version=7, sentry_client=sentry.javascript.node/11.12.0, sentry_key=${KEY}` }
    expect((await post(envelope({}, json('event', error('keys'))), { path: '/api/4507/envelope/', headers: auth })).status).toBe(200)
    const tunnelled = envelope({ dsn: `https://${KEY}@o1.ingest.sentry.io/42` }, json('event', error('keys')))
    expect((await post(gzipSync(tunnelled), { path: '/api/42/envelope', headers: { 'content-encoding': 'gzip' } })).status).toBe(200)
    expect((await post(JSON.stringify(error('keys')), { path: '/api/1/store/', headers: { ...auth, 'content-type': 'application/json' } })).status).toBe(200)
    const stored = await rows('keys')
    expect(stored.map((r) => [r.kind, r.name, r.message, r.handled])).toEqual(Array(4).fill(['error', 'RangeError', 'Invalid array length', 1]))
    expect(stored[0]!.stack).toBe('RangeError: Invalid array length\n    at render (https://shop.example/assets/app.js:1:42)')

    const preflight = await fetch(`${collector().url}/api/1/envelope/`, { method: 'OPTIONS', headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*')
  })

  it('stores an envelope sent again once; refuses unknown keys as /v1/ingest does', async () => {
    const ev = error('retry')
    for (let i = 0; i < 2; i++) expect((await post(envelope({ event_id: ev.event_id }, json('event', ev)))).status).toBe(200)
    const s = session('retry', id())
    // An offline transport sends the same bytes again.
    const again = envelope({ sent_at: new Date().toISOString() }, json('session', s))
    for (let i = 0; i < 2; i++) expect((await post(again)).status).toBe(200)
    expect((await rows('retry')).map((r) => r.kind).sort()).toEqual(['error', 'session'])
    // A native batch may not take an id of Sentry's intake (it would pass for the SDK's data, or hide an envelope to come).
    const native = await fetch(`${collector().url}/v1/ingest`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-vigil-key': KEY }, body: JSON.stringify({ id: `sentry:${ev.event_id}`, ev: [{ t: 'session', ts: Date.now(), o: 'start' }] }) })
    expect([native.status, ((await native.json()) as { code: string }).code]).toEqual([400, 'VIGIL_INVALID_BATCH'])
    const unknown = await post(envelope({}, json('event', error('retry'))), { path: '/api/1/envelope/?sentry_key=vgl_nobody' })
    expect(unknown.status).toBe(403)
    expect(await unknown.json()).toMatchObject({ code: 'VIGIL_UNKNOWN_KEY' })
    const none = await post(envelope({}, json('event', error('retry'))), { path: '/api/1/envelope/' })
    expect(none.status).toBe(401)
  })

  it('counts sessions as the SDK says them, aggregates too; a session a client knows owns its errors', async () => {
    const [a, b] = [id(), id()]
    await post(envelope({}, json('session', session('sessions', a))))
    await post(envelope({}, json('event', error('sessions', { exception: { values: [{ type: 'TypeError', value: 'x is undefined', mechanism: { handled: false } }] } }))))
    await post(envelope({}, json('session', session('sessions', a, { init: false, status: 'unhandled', errors: 1 }))))
    await post(envelope({}, json('session', session('sessions', b, { status: 'exited', duration: 12.5 }))))
    const agg = { aggregates: [{ started: new Date().toISOString(), exited: 5, errored: 2, crashed: 1, abnormal: 1 }], attrs: RELEASE('sessions') }
    const res = await post(envelope({}, json('sessions', agg)))
    expect(await res.json()).toMatchObject({ accepted: 9 })
    const stored = await rows('sessions')
    const outcome = (s: string) => stored.filter((r) => r.session === s && r.kind === 'session').map((r) => r.outcome).sort()
    expect(outcome(a)).toEqual(['crashed', 'start'])
    expect(outcome(b)).toEqual(['ok', 'start'])
    expect(stored.find((r) => r.session === b && r.outcome === 'ok')!.value).toBe(12_500)
    expect(stored.filter((r) => r.kind === 'error').map((r) => [r.session, r.handled])).toEqual([[a, 0]])
    const made = stored.filter((r) => r.session !== a && r.session !== b)
    expect(new Set(made.map((r) => r.session)).size).toBe(9)
    expect(made.map((r) => r.outcome).sort()).toEqual(['crashed', 'crashed', 'errored', 'errored', 'ok', 'ok', 'ok', 'ok', 'ok'])

    // A client no session is known of (a server, another collector's): its unhandled error counts
    // in its trace, and crashes no session (the SDK's own session says whether one crashed).
    const server = { 'user-agent': 'sentry.javascript.node/11.12.0' }
    await post(envelope({}, json('event', error('sessions', { contexts: { trace: { trace_id: 'f'.repeat(32) } }, exception: { values: [{ type: 'Error', value: 'db down', mechanism: { handled: false } }] } }))), { headers: server })
    const lone = (await rows('sessions')).find((r) => r.message === 'db down')!
    expect([lone.session, lone.handled]).toEqual([`trace:${'f'.repeat(32)}`, 1])

    // Aggregates past the 1,000 events an envelope may bring keep each outcome's share.
    const many = { aggregates: [{ started: new Date().toISOString(), exited: 1500, crashed: 500 }], attrs: RELEASE('many') }
    const cut = await metric('vigil_events_refused_total', 'reason="too_many_items"')
    expect(await (await post(envelope({}, json('sessions', many)), { headers: server })).json()).toMatchObject({ accepted: 1000 })
    const outcomes = (await rows('many')).map((r) => r.outcome)
    expect([outcomes.filter((o) => o === 'ok').length, outcomes.filter((o) => o === 'crashed').length]).toEqual([750, 250])
    expect((await metric('vigil_events_refused_total', 'reason="too_many_items"')) - cut).toBe(1000)
    // By largest remainder: 4 crashes in 5,000 keep their one place in 1,000; the room is filled.
    const rare = { aggregates: [{ started: new Date().toISOString(), exited: 4996, crashed: 4 }], attrs: RELEASE('rare') }
    await post(envelope({}, json('sessions', rare)), { headers: server })
    const kept = (await rows('rare')).map((r) => r.outcome)
    expect([kept.length, kept.filter((o) => o === 'crashed').length]).toEqual([1000, 1])
  })

  it("takes the transactions a project names as flows, by name or op, their outcome from their status", async () => {
    const set = await fetch(`${collector().url}/v1/projects/default`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ transactionFlows: { checkout: 'checkout', pageload: 'page-load' } }) })
    expect(set.status).toBe(200)
    const tx = (name: string, op: string, status: string | undefined) => ({
      event_id: id(), type: 'transaction', transaction: name, start_timestamp: now() - 1.25, timestamp: now(), ...RELEASE('tx'),
      contexts: { trace: { trace_id: id(), span_id: id().slice(0, 16), op, ...(status ? { status } : {}) } },
    })
    const sent = [tx('checkout', 'ui.action', 'ok'), tx('checkout', 'ui.action', 'internal_error'), tx('/plans/:id', 'pageload', 'deadline_exceeded'), tx('/', 'pageload', undefined), tx('search', 'ui.action', 'cancelled'), tx('/x', 'navigation', 'ok')]
    for (const t of sent) expect((await post(envelope({ event_id: t.event_id }, json('transaction', t)))).status).toBe(200)
    const flows = (await rows('tx')).map((r) => [r.kind, r.name, r.outcome, r.reason])
    expect(flows.sort()).toEqual([['flow', 'checkout', 'fail', 'internal_error'], ['flow', 'checkout', 'ok', ''], ['flow', 'page-load', 'ok', ''], ['flow', 'page-load', 'timeout', '']])
    expect(await metric('vigil_items_ignored_total', 'intake="sentry",type="transaction"')).toBe(2)
  })

  it('counts client reports as the client\'s own discards, and every other item type as ignored', async () => {
    const report = { timestamp: now(), discarded_events: [{ reason: 'queue_overflow', category: 'error', quantity: 3 }, { reason: 'made_up', category: 'x', quantity: 2 }] }
    const res = await post(envelope({}, json('client_report', report), [{ type: 'replay_recording', length: 4 }, Buffer.from([0, 1, 2, 10])], json('attachment', { a: 1 }), json('brand_new_type', {})))
    expect(res.status).toBe(200)
    // The same report sent again (a retry) is counted once.
    await post(envelope({}, json('client_report', report), [{ type: 'replay_recording', length: 4 }, Buffer.from([0, 1, 2, 10])], json('attachment', { a: 1 }), json('brand_new_type', {})))
    expect(await metric('vigil_client_discarded_total', 'intake="sentry",reason="queue_overflow",category="error"')).toBe(3)
    expect(await metric('vigil_client_discarded_total', 'intake="sentry",reason="other",category="other"')).toBe(2)
    expect(await metric('vigil_items_ignored_total', 'intake="sentry",type="replay_recording"')).toBe(1)
    expect(await metric('vigil_items_ignored_total', 'intake="sentry",type="other"')).toBe(1)
  })

  it('answers a key over its rate limit with 429, Retry-After and X-Sentry-Rate-Limits', async () => {
    const add = await fetch(`${collector().url}/v1/projects`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Slow', rateLimit: 1 }) })
    const slow = ((await add.json()) as { ingestKey: string }).ingestKey
    const statuses: number[] = []
    let limited: Response | undefined
    for (let i = 0; i < 15 && !limited; i++) {
      const r = await post(envelope({}, json('event', error('limited'))), { path: `/api/1/envelope/?sentry_key=${slow}` })
      statuses.push(r.status)
      if (r.status === 429) limited = r
    }
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(200))
    expect(limited!.headers.get('retry-after')).toMatch(/^\d+$/)
    expect(limited!.headers.get('x-sentry-rate-limits')).toBe(`${limited!.headers.get('retry-after')}::key`)
    expect(limited!.headers.get('access-control-expose-headers')).toContain('x-sentry-rate-limits')
    expect(await limited!.json()).toMatchObject({ code: 'VIGIL_RATE_LIMITED' })
  })

  it('answers the bad-input corpus with a clear 4xx or a counted ignore, never a 500, and keeps the valid items', async () => {
    const good = () => json('event', error('corpus'))
    const before = await metric('vigil_events_refused_total', 'reason="invalid_item"')
    const cases: [string, Buffer | string, number, string?][] = [
      ['a header that is not JSON', 'not json\n{"type":"event"}\n{}', 400, 'VIGIL_INVALID_ENVELOPE'],
      ['an empty body', '', 400, 'VIGIL_INVALID_ENVELOPE'],
      ['a truncated envelope, after a good item', Buffer.concat([envelope({}, good()), Buffer.from('\n{"type":"event","length":500}\n{"event_id":')]), 200],
      ['a length that lies short, after a good item', envelope({}, good(), [{ type: 'event', length: 5 }, JSON.stringify(error('corpus'))]), 200],
      ['a declared length of 100 MB', envelope({}, good(), [{ type: 'attachment', length: 100 * 1024 * 1024 }, 'tiny']), 200],
      ['a negative length', envelope({}, [{ type: 'event', length: -1 }, '{}']), 400, 'VIGIL_INVALID_ENVELOPE'],
      ['an item header that is not JSON', Buffer.concat([envelope({}, good()), Buffer.from('\n{type: event}\n{}')]), 200],
      ['a payload that is not JSON, beside a good one', envelope({}, [{ type: 'event' }, '{"event_id": oops'], good()), 200],
      ['a payload that is an array', envelope({}, [{ type: 'session' }, '[1,2]']), 400, 'VIGIL_INVALID_ENVELOPE'],
      ['a session without a sid', envelope({}, json('session', { status: 'ok' })), 400, 'VIGIL_INVALID_ENVELOPE'],
      ['a timestamp of 1e309 and a release that is a number', envelope({}, [{ type: 'event' }, `{"timestamp":1e309,"release":"s-corpus","exception":{"values":[{"type":"E"}]}}`], json('event', { ...error('corpus'), release: 7 })), 200],
      // The key the SDK authenticates with (here the query's) says the project; a header's DSN is for tunnels without one.
      ['a DSN naming another key than the query', envelope({ dsn: 'https://vgl_someone_else@o1.ingest.sentry.io/7' }, good()), 200],
      ['only item types we do not judge', envelope({}, json('profile', {}), json('check_in', {})), 200],
      ['101 items', envelope({}, ...Array.from({ length: 101 }, good)), 200],
      ['a body over 1 MiB', envelope({}, [{ type: 'attachment' }, 'x'.repeat(1100 * 1024)]), 413, 'VIGIL_BODY_TOO_LARGE'],
      ['gzip that is not', 'not gzip at all', 400, 'VIGIL_BAD_ENCODING'],
    ]
    for (const [what, body, status, code] of cases) {
      const res = await post(body, what.startsWith('gzip') ? { headers: { 'content-encoding': 'gzip' } } : {})
      const answer = (await res.json()) as { code?: string }
      expect([what, res.status, answer.code]).toEqual([what, status, code])
    }
    // The good items beside the bad ones are kept: 1 + 1 + 1 + 1 + 1 (+ 1 with its time put right) + 1 + 100.
    expect((await rows('corpus')).length).toBe(107)
    expect(await metric('vigil_events_refused_total', 'reason="invalid_event"')).toBeGreaterThanOrEqual(1)
    expect((await metric('vigil_events_refused_total', 'reason="invalid_item"')) - before).toBe(10)
  })
})
