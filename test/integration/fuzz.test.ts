/**
 * A property-based fuzzer of the wire format (fast-check) over the real ingest routes, HTTP and
 * WebSocket, of one collector with embedded ClickHouse in a temp dir. It sends batches of the
 * right shape holding hostile values (1e309 and -1e309 as written, negative and fractional
 * times, long strings, lone surrogates, NUL, tabs, newlines and backslashes for the TabSeparated
 * spool, deep nesting, wrong types, missing and repeated fields, repeated batch ids), and
 * garbage. Each answer is checked against what the format says it must be; at the end,
 * ClickHouse must hold exactly the events answered 202, field for field, nothing quarantined,
 * `/metrics` must have counted every refusal by its reason, and `/healthz` must say ok.
 *
 * Deterministic for a seed: FUZZ_SEED=n (printed on failure) replays a run; FUZZ_RUNS=n runs more.
 */
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { MAX_DEPTH } from '../../collector/src/ingest/accept.js'
import { LIMITS, MAX_AGE_MS } from '../../collector/src/ingest/normalise.js'
import { FLOW_OUTCOMES, MAX_BODY_BYTES, MAX_DURATION_MS, MAX_VITAL, SESSION_STATUSES, VITALS } from '../../collector/src/ingest/wire.js'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'
import { storedEvents } from '../helpers/storeQueries.js'

const SEED = Number(process.env.FUZZ_SEED || 20_110)
const RUNS = Number(process.env.FUZZ_RUNS || 250)
const KEY = 'vgl_fuzz_test_key'
const DAY = 86_400_000

// ---- A body as written: numbers by their text, objects with a field possibly twice.

/** A number exactly as written (`1e309`, `-0`), or, with an offset, the time when the body is written plus it. */
class Lit {
  constructor(
    readonly text: string,
    readonly offset?: number,
  ) {}
  [fc.toStringMethod]() {
    return this.offset === undefined ? this.text : `now${this.offset < 0 ? '' : '+'}${this.offset}`
  }
}
/** An object as written, its fields in order; a name given twice counts once, the last (as JSON.parse). */
class Obj {
  constructor(readonly fields: [string, Json][]) {}
  [fc.toStringMethod]() {
    return `{${this.fields.map(([k, v]) => `${JSON.stringify(k)}:${fc.stringify(v)}`).join(',')}}`
  }
}
type Json = null | boolean | number | string | Lit | Obj | Json[] | { [k: string]: Json }

const write = (v: Json, now: number): string => {
  if (v instanceof Lit) return v.offset === undefined ? v.text : String(now + v.offset)
  if (v instanceof Obj) return `{${v.fields.map(([k, x]) => `${JSON.stringify(k)}:${write(x, now)}`).join(',')}}`
  if (Array.isArray(v)) return `[${v.map((x) => write(x, now)).join(',')}]`
  if (v !== null && typeof v === 'object') return write(new Obj(Object.entries(v)), now)
  return JSON.stringify(v)
}

// ---- Values, each with whether the format allows it where it is put.

/** A value; `ok`: the format allows it in its field; `num`: the number it is, when the oracle needs it. */
type Val = { json: Json; ok: boolean; num?: (now: number) => number }
const lit = (text: string): Val => ({ json: new Lit(text), ok: false })
const either = (ok: fc.Arbitrary<Json>, notOk: fc.Arbitrary<Json>, okWeight = 30): fc.Arbitrary<Val> =>
  fc.oneof({ weight: okWeight, arbitrary: ok.map((json) => ({ json, ok: true })) }, { weight: 1, arbitrary: notOk.map((json) => ({ json, ok: false })) })

/** Characters that mean something to JSON, TabSeparated, ClickHouse or UTF-16. */
const special = fc.constantFrom('\t', '\n', '\r', '\\', '\0', '\\N', '\\t', '#', '"', '\u2028', '\u0085', '\x7f', '\ud800', '\udfff', '\ud83d', '😀', 'é', 'a', ' ')
const text = fc.oneof(
  { weight: 4, arbitrary: fc.string() },
  { weight: 2, arbitrary: fc.string({ unit: 'binary' }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii' }) },
  { weight: 3, arbitrary: fc.string({ unit: special }) },
  { weight: 1, arbitrary: fc.tuple(special, fc.integer({ min: 150, max: 20_000 })).map(([c, n]) => c.repeat(n)) },
)
/** Stack lines as the engines print them (`    at fn (url:1:2)`, `fn@url:1:2`), with hostile parts. */
const stack = fc
  .array(
    fc
      .tuple(fc.constantFrom('    at ', 'at async ', '', 'async*'), text, fc.constantFrom(' (', '@'), fc.oneof(fc.webUrl(), text), fc.nat(), fc.nat())
      .map(([pre, fn, open, url, line, col]) => `${pre}${fn}${open}${url}:${line}:${col}${open === ' (' ? ')' : ''}`),
    { maxLength: 12 },
  )
  .map((lines) => lines.join('\n'))
const notString: fc.Arbitrary<Json> = fc.oneof(fc.integer(), fc.boolean(), fc.constantFrom<Json>(null, ['a'], new Lit('1e309')))
const str = either(text, notString)
/** A number that is none: written as text JSON.parse makes Infinity of, or another type. */
const notNumber = fc.constantFrom<Json>(new Lit('1e309'), new Lit('-1e309'), new Lit('1E400'), '12', null, true, [])
const within = (max: number) =>
  either(
    fc.oneof(fc.double({ min: 0, max, noNaN: true }), fc.constantFrom<Json>(0, max, new Lit('-0'), new Lit('5e-324'), new Lit('1e-400'), new Lit('1.5e3'))),
    fc.oneof(notNumber, fc.constantFrom<Json>(-1, -1e-9, max + 1, new Lit('1e308'))),
  )

/** A time relative to when the body is written (ms), or fixed; and times the format refuses. */
const relative = (offset: number): Val => ({ json: new Lit('now', offset), ok: true, num: (now) => now + offset })
const fixed = (text: string, n: number): Val => ({ json: new Lit(text), ok: true, num: () => n })
const ts = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom(0, -5000, -1234.5, -3600_000, -29 * DAY, -31 * DAY, 3600_000, 400 * DAY).map(relative) },
  { weight: 2, arbitrary: fc.constantFrom(fixed('0', 0), fixed('1.5', 1.5), fixed('-0', 0), fixed('1e-400', 0), fixed('9999999999999', 9_999_999_999_999)) },
  { weight: 2, arbitrary: fc.constantFrom(lit('1e309'), lit('-1e309'), lit('-1'), lit('10000000000000'), lit('"1700000000000"'), lit('null'), lit('{}')) },
)
/** The batch's `at`: a time, or a number that is no time (ignored); `ok: false`: not a number (the batch is refused). */
const at = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom(-500, -3600_000, 3600_000, -10 * DAY, 10 * DAY, -40 * DAY).map(relative) },
  { weight: 5, arbitrary: fc.constantFrom(fixed('0', 0), fixed('1.5', 1.5), fixed('1e300', 1e300), fixed('-1e300', -1e300), fixed('1e309', Infinity), fixed('-1e309', -Infinity)) },
  { weight: 1, arbitrary: fc.constantFrom(lit('"now"'), lit('null'), lit('[]')) },
)
/** `a` one time in `oneIn`, else nothing. */
const rarely = <T>(a: fc.Arbitrary<T>, oneIn: number) => fc.oneof({ weight: 1, arbitrary: a }, { weight: oneIn - 1, arbitrary: fc.constant(undefined) })
const oneOf = (good: readonly string[], bad: Json[]) => either(fc.constantFrom(...good), fc.constantFrom(...bad))

/** Fields the format does not know (ignored), some deep: nested `n` levels below their object. */
const nested = (n: number) => new Lit('['.repeat(n) + ']'.repeat(n))
const unknownField = fc.tuple(
  fc.oneof(fc.string().map((s) => `x${s}`), fc.constantFrom('__proto__', 'constructor', 'toString')),
  fc.oneof(
    { weight: 20, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 24 }).map(nested) },
    { weight: 1, arbitrary: fc.constant(nested(100_000)) },
  ),
)

// ---- Events.

/** An event as sent; `code`: why the format refuses it, unless its time (`ts`) is out of range. */
type Ev = { json: Json; code: string | null; ts?: (now: number) => number }
type Spec = Record<string, { value: fc.Arbitrary<Val>; required?: boolean }>

const common: Spec = { ts: { value: ts, required: true }, r: { value: str }, e: { value: str }, s: { value: str }, u: { value: either(fc.oneof(text, fc.webUrl({ withQueryParameters: true, withFragments: true })), notString) } }
const specs: Record<string, Spec> = {
  error: { ...common, ty: { value: str }, m: { value: str }, st: { value: either(fc.oneof(text, stack), notString) }, h: { value: either(fc.boolean(), fc.constantFrom<Json>('true', 1, null)) } },
  flow: {
    ...common,
    n: { value: either(text.filter((s) => s.length > 0), fc.constantFrom<Json>('', 7)), required: true },
    o: { value: oneOf(FLOW_OUTCOMES, ['OK', '', 'failed', 1]), required: true },
    d: { value: within(MAX_DURATION_MS) },
    re: { value: str },
    sp: { value: str },
  },
  session: { ...common, o: { value: oneOf(SESSION_STATUSES, ['end', null]), required: true }, d: { value: within(MAX_DURATION_MS) } },
  vital: { ...common, n: { value: oneOf(VITALS, ['lcp', 'FID', 0]), required: true }, v: { value: within(MAX_VITAL), required: true } },
}

const typedEvent = (t: string, spec: Spec): fc.Arbitrary<Ev> =>
  fc
    .record({
      fields: fc.record(Object.fromEntries(Object.entries(spec).map(([name, f]) => [name, fc.option(f.value, { nil: undefined, freq: f.required ? 25 : 2 })]))),
      unknown: rarely(unknownField, 6),
      // A field given twice: the first copy is shadowed by the real one.
      shadowed: rarely(fc.tuple(fc.constantFrom(...Object.keys(spec)), fc.jsonValue({ maxDepth: 1 }) as fc.Arbitrary<Json>), 10),
    })
    .map(({ fields, unknown, shadowed }) => {
      const present = Object.entries(fields).filter((e): e is [string, Val] => e[1] !== undefined)
      const missing = Object.entries(spec).some(([name, f]) => f.required && fields[name] === undefined)
      const written: [string, Json][] = [['t', t], ...present.map(([name, v]): [string, Json] => [name, v.json])]
      if (shadowed && fields[shadowed[0]] !== undefined) written.splice(1, 0, shadowed)
      if (unknown) written.push(unknown)
      const faulty = missing || present.some(([, v]) => !v.ok)
      return { json: new Obj(written), code: faulty ? 'invalid_event' : null, ts: fields.ts?.num }
    })

const event: fc.Arbitrary<Ev> = fc.oneof(
  ...Object.entries(specs).map(([t, spec]) => ({ weight: 5, arbitrary: typedEvent(t, spec) })),
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.option(fc.constantFrom<Json>('nope', 'Error', 'FLOW', 5, null, '__proto__', 'toString', 'constructor'), { nil: undefined }), fc.constantFrom('ts', 'n'))
      .map(([t, other]): Ev => ({ json: new Obj([...(t === undefined ? [] : [['t', t] as [string, Json]]), [other, 1]]), code: 'unknown_type' })),
  },
  { weight: 1, arbitrary: fc.constantFrom<Json>(42, 'flow', null, true, [], [{ t: 'flow' }]).map((json): Ev => ({ json, code: 'invalid_event' })) },
)

// ---- Batches.

/** Which key the batch carries: in its `k`, else on the request (header, or the socket's `?key=`). */
type KeyAt = 'good' | 'bad' | 'none'
type Batch = {
  fields: [string, Json][]
  /** The envelope breaks the format (the whole batch is refused). */
  invalid: boolean
  /** `k` when it is a string; undefined when absent. */
  k?: KeyAt
  at?: (now: number) => number
  events?: Ev[]
}
const codePoints = (s: string) => [...s].length
const idVal = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom('dup-0', 'dup-1', 'dup-2') },
  { weight: 4, arbitrary: fc.uuid() },
  { weight: 4, arbitrary: text },
  { weight: 1, arbitrary: fc.constantFrom('x'.repeat(101), '😀'.repeat(100), '\ud800'.repeat(100), '') },
).map((s): Val => ({ json: s, ok: codePoints(s) >= 1 && codePoints(s) <= 100 }))
const kVal = fc.oneof(
  { weight: 12, arbitrary: fc.constant<[Val, KeyAt]>([{ json: KEY, ok: true }, 'good']) },
  { weight: 1, arbitrary: fc.constant<[Val, KeyAt]>([{ json: 'vgl_wrong', ok: true }, 'bad']) },
  { weight: 1, arbitrary: fc.constant<[Val, KeyAt]>([{ json: '', ok: true }, 'none']) },
  { weight: 1, arbitrary: fc.constantFrom<[Val, KeyAt]>([{ json: 7, ok: false }, 'none'], [{ json: 'k'.repeat(201), ok: false }, 'none']) },
)
const smallFlow = fc.constantFrom(...FLOW_OUTCOMES).map((o): Ev => ({ json: new Obj([['t', 'flow'], ['ts', relative(0).json], ['n', 'bulk'], ['o', o]]), code: null, ts: (now) => now }))
const evVal = fc.oneof(
  { withCrossShrink: true },
  { weight: 30, arbitrary: fc.array(event, { minLength: 1, maxLength: 6 }).map((events) => ({ events, ok: true })) },
  { weight: 1, arbitrary: fc.tuple(smallFlow, fc.constantFrom(1000, 1001)).map(([e, n]) => ({ events: Array<Ev>(n).fill(e), ok: n <= 1000 })) },
  { weight: 1, arbitrary: fc.constantFrom<Json>([], {}, 'ev', null).map((json) => ({ json, ok: false })) },
)
const drVal = fc.constantFrom<Json>(3, 0, -2, 1.5, new Lit('1e309'), 2e9, 'x')

const batch: fc.Arbitrary<Batch> = fc
  .record({
    k: fc.option(kVal, { nil: undefined, freq: 4 }),
    id: fc.option(idVal, { nil: undefined, freq: 4 }),
    at: fc.option(at, { nil: undefined, freq: 2 }),
    // Now and then a release of a size near the body's limit: under it (cut to size) or over it (413).
    r: fc.option(fc.oneof({ weight: 30, arbitrary: str }, { weight: 1, arbitrary: fc.constantFrom('\\'.repeat(400_000), 'é'.repeat(600_000)).map((json): Val => ({ json, ok: true })) }), { nil: undefined, freq: 2 }),
    e: fc.option(str, { nil: undefined, freq: 3 }),
    s: fc.option(str, { nil: undefined, freq: 2 }),
    dr: rarely(drVal, 8),
    ev: fc.option(evVal, { nil: undefined, freq: 40 }),
    unknown: rarely(unknownField, 6),
  })
  .map(({ k, id, at, r, e, s, dr, ev, unknown }) => {
    const fields: [string, Json][] = []
    let invalid = ev === undefined || !ev.ok
    for (const [name, v] of Object.entries({ k: k?.[0], id, at, r, e, s })) {
      if (v === undefined) continue
      fields.push([name, v.json])
      invalid ||= !v.ok
    }
    if (dr !== undefined) fields.push(['dr', dr])
    if (ev) fields.push(['ev', 'events' in ev ? ev.events.map((x) => x.json) : ev.json])
    if (unknown) fields.push(unknown)
    const written = new Obj(fields)
    // A counterexample shows the body as it is written.
    return { fields, invalid, k: k && k[0].ok ? k[1] : undefined, at: at?.num, events: ev && 'events' in ev ? ev.events : undefined, [fc.toStringMethod]: () => fc.stringify(written) }
  })

// ---- Requests.

type Transport = 'http' | 'ws'
type Encoding = 'identity' | 'gzip' | 'deflate' | 'br'
const encode: Record<Encoding, (b: Buffer) => Buffer> = { identity: (b) => b, gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync }

/** A batch of the right shape, sent the way clients send: the oracle knows its answer. */
const shaped = fc.record({
  kind: fc.constant('shaped' as const),
  batch,
  keyOnRequest: fc.constantFrom<KeyAt>('good', 'good', 'bad', 'none'),
  transport: fc.constantFrom<Transport>('http', 'http', 'http', 'http', 'ws'),
  contentType: fc.constantFrom('application/json', 'text/plain', 'text/plain;charset=UTF-8', 'application/json; charset=utf-8'),
  encoding: fc.constantFrom<Encoding>('identity', 'identity', 'identity', 'gzip', 'deflate', 'br'),
  userAgent: fc.option(fc.string({ maxLength: 600 }), { nil: undefined }),
})

/** A body broken at one place: cut, a character gone, or one put in. */
const mutate = (s: string, at: number, how: number, c: string) => {
  const i = at % (s.length + 1)
  return how === 0 ? s.slice(0, i) : how === 1 ? s.slice(0, i) + s.slice(i + 1) : s.slice(0, i) + c + s.slice(i)
}
/** Anything at all, with no key anywhere (it can never be stored): only the general properties hold. */
const garbage = fc.record({
  kind: fc.constant('garbage' as const),
  body: fc.oneof(
    fc.string({ unit: 'binary-ascii' }),
    fc.uint8Array({ maxLength: 64 }),
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.constantFrom('', ' ', 'null', '[]', '{}', '{"ev":null}', '{"ev":[]}', '{"ev":[1]}', '{"ev":[{}]}', '\ufeff{"ev":[{}]}', '{"ev":[{"t":"flow"}],"k":null}', '[1,2,3]'),
    fc
      .tuple(batch, fc.nat(), fc.integer({ min: 0, max: 2 }), fc.constantFrom('{', '}', '[', ']', '"', ',', ':', '\\', '\0', '\ud800', '1e309'))
      .map(([b, i, how, c]) => (now: number) => mutate(write(new Obj(b.fields.filter(([k]) => k !== 'k')), now), i, how, c)),
  ),
  contentType: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom<string | undefined>('text/plain', 'application/json') },
    { weight: 1, arbitrary: fc.constantFrom(undefined, 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/html', 'application/JSON', 'application/json; charset=latin1') },
    { weight: 1, arbitrary: fc.string() },
  ),
  encoding: rarely(fc.oneof(fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'compress', 'gzip, br'), fc.string()), 6),
  transport: fc.constantFrom<Transport>('http', 'http', 'http', 'ws'),
})

type Shaped = typeof shaped extends fc.Arbitrary<infer T> ? T : never
type Garbage = typeof garbage extends fc.Arbitrary<infer T> ? T : never
type Answer = { status: number; body: Record<string, unknown> }

/** How deep a parsed value nests (an object or array is a level), counted up to `limit + 1`. */
const depth = (v: unknown, limit: number): number => {
  if (v === null || typeof v !== 'object') return 0
  if (limit === 0) return 1
  let d = 0
  for (const x of Object.values(v)) d = Math.max(d, depth(x, limit - 1))
  return 1 + d
}

/** A string as ClickHouse gives it back: cut to `max` UTF-16 units, then as UTF-8 holds it (a lone surrogate is U+FFFD). */
const cut = (v: unknown, max: number) => Buffer.from(typeof v === 'string' ? v.slice(0, max) : '').toString()
/** A name cut, then without control characters (environments and releases: the detector keys cohorts with them). */
const plain = (v: unknown, max: number) => cut(typeof v === 'string' ? v.slice(0, max).replace(/[\u0000-\u001f\u007f]/g, '') : '', max)

/** The stored row an accepted event must become (the fields a client sends, as stored). */
const storedRow = (b: Record<string, unknown>, e: Record<string, unknown>) => {
  const batchId = cut(b.id, 100)
  const t = e.t
  return JSON.stringify([
    plain(e.r ?? b.r, LIMITS.release),
    plain(e.e ?? b.e, LIMITS.env) || 'production',
    cut(e.s ?? b.s, LIMITS.session) || `batch:${batchId}`,
    batchId,
    t,
    t === 'error' ? cut(e.ty, LIMITS.name) || 'Error' : t === 'flow' ? cut(e.n, LIMITS.name) : t === 'vital' ? e.n : '',
    t === 'flow' || t === 'session' ? e.o : '',
    t === 'vital' ? e.v : t !== 'error' && typeof e.d === 'number' ? e.d : 0,
    t === 'flow' ? cut(e.re, LIMITS.reason) : '',
    t === 'flow' ? cut(e.sp, LIMITS.step) : '',
    t === 'error' ? cut(e.m, LIMITS.message) : '',
    t === 'error' ? cut(e.st, LIMITS.stack) : '',
    t === 'error' && e.h === true ? 1 : 0,
    typeof e.u === 'string' ? cut(e.u.split(/[?#]/)[0], LIMITS.url) : '',
  ])
}

/** Codes of a refusal whose body the collector never read: its events count as one. */
const UNREAD = new Set(['VIGIL_INVALID_JSON', 'VIGIL_BODY_TOO_LARGE', 'VIGIL_UNSUPPORTED_MEDIA_TYPE', 'VIGIL_BAD_ENCODING'])

const add = (m: Map<string, number>, k: string, n = 1) => m.set(k, (m.get(k) ?? 0) + n)

describe('ingest wire format, fuzzed', () => {
  const dir = tempDir()
  let c: Running
  const sockets = new Map<KeyAt, WebSocket>()

  // What the collector must have done, from its answers.
  const rows: string[] = []
  const refused = new Map<string, number>()
  const batchesRefused = new Map<string, number>()
  const acceptedByKind = new Map<string, number>()
  const seen = new Set<string>()
  let duplicates = 0
  let dropped = 0
  let requests = 0

  beforeAll(async () => {
    // The format alone: no rate limit, and no limit on new names (the runs make hundreds; test/integration/cardinality.test.ts tests those).
    c = await startCollector({ dataDir: dir.path, projectKey: KEY, rateLimit: 0, limits: { releases: 0, environments: 0, flows: 0, endpoints: 0, flagVariants: 0, tags: 0, errorGroups: 0, windowMs: 3600_000 } })
  })
  afterAll(async () => {
    for (const ws of sockets.values()) ws.terminate()
    await c?.close()
    dir.remove()
  })

  const socket = async (key: KeyAt) => {
    let ws = sockets.get(key)
    if (!ws) {
      const query = key === 'none' ? '' : `?key=${key === 'good' ? KEY : 'vgl_wrong'}`
      ws = new WebSocket(`${c.url.replace('http', 'ws')}/v1/ws${query}`)
      sockets.set(key, ws)
      await new Promise((r, j) => ws!.once('open', r).once('error', j))
    }
    return ws
  }

  const send = async (transport: Transport, body: string | Buffer, headers: Record<string, string>, key: KeyAt): Promise<Answer> => {
    requests++
    if (transport === 'ws') {
      const ws = await socket(key)
      const ack = new Promise<Answer>((resolve, reject) => {
        const closed = (code: number) => reject(new Error(`the collector closed the socket (${code})`))
        ws.once('close', closed).once('message', (d) => {
          ws.off('close', closed)
          const body = JSON.parse(String(d)) as Record<string, unknown>
          resolve({ status: Number(body.status), body })
        })
      })
      ws.send(String(body))
      return ack
    }
    if (key !== 'none') headers['x-vigil-key'] = key === 'good' ? KEY : 'vgl_wrong'
    const res = await fetch(`${c.url}/v1/ingest`, { method: 'POST', headers, body: typeof body === 'string' ? body : new Uint8Array(body) })
    const text = await res.text()
    try {
      return { status: res.status, body: JSON.parse(text) as Record<string, unknown> }
    } catch {
      throw new Error(`answer ${res.status} is not JSON: ${text.slice(0, 200)}`)
    }
  }

  /** Books what one answer says the collector did, then checks what holds for every answer. */
  const book = (transport: Transport, parsed: unknown, a: Answer, codes?: (string | null)[]) => {
    const b = (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : {}) as Record<string, unknown>
    const ev = Array.isArray(b.ev) ? (b.ev as Record<string, unknown>[]) : undefined
    const code = a.body.code as string
    expect(a.status, JSON.stringify(a.body)).toBeLessThan(500)
    if (transport === 'ws') expect(a.body.id).toBe(typeof b.id === 'string' ? b.id : undefined)
    if (a.status >= 400) {
      expect(code).toMatch(/^VIGIL_[A-Z_]+$/)
      expect(a.body.message).toEqual(expect.any(String))
      if (transport === 'http') expect(a.body.statusCode).toBe(a.status)
      add(batchesRefused, code)
      if (code === 'VIGIL_NO_VALID_EVENTS') {
        for (const reason of codes ?? []) add(refused, reason!)
        countDropped(b)
      } else add(refused, code, !UNREAD.has(code) && ev ? ev.length : 1)
      return
    }
    expect(a.status).toBe(202)
    const { accepted, rejected, duplicate, errors = [] } = a.body as { accepted: number; rejected: number; duplicate?: boolean; errors?: { index: number; code: string }[] }
    if (duplicate) {
      expect([accepted, rejected]).toEqual([0, 0])
      duplicates++
      return
    }
    expect(ev).toBeDefined()
    const refusedAt = new Set(errors.map((e) => e.index))
    expect([accepted, rejected, errors.length, refusedAt.size]).toEqual([ev!.length - rejected, rejected, rejected, rejected])
    expect(accepted).toBeGreaterThan(0)
    for (const e of errors) add(refused, e.code)
    ev!.forEach((e, i) => {
      if (refusedAt.has(i)) return
      rows.push(storedRow(b, e))
      add(acceptedByKind, e.t as string)
    })
    if (typeof b.id === 'string') seen.add(b.id)
    countDropped(b)
  }
  /** Events the client dropped (`dr`), counted once per batch: when it is stored, or refused for good. */
  const countDropped = (b: Record<string, unknown>) => {
    if (typeof b.dr === 'number' && Number.isSafeInteger(b.dr) && b.dr > 0) dropped += Math.min(b.dr, 1e9)
  }

  /** What the format says the answer to a shaped batch is (status, code, and refused events by index). */
  const oracle = (s: Shaped, parsed: Record<string, unknown>, bytes: number, now: number) => {
    if (bytes > MAX_BODY_BYTES) return { status: 413, code: 'VIGIL_BODY_TOO_LARGE' }
    if (s.batch.invalid) return { status: 400, code: 'VIGIL_INVALID_BATCH' }
    if (depth(parsed, MAX_DEPTH) > MAX_DEPTH) return { status: 400, code: 'VIGIL_TOO_DEEP' }
    const key = s.batch.k ?? s.keyOnRequest
    if (key === 'none') return { status: 401, code: 'VIGIL_MISSING_KEY' }
    if (key === 'bad') return { status: 403, code: 'VIGIL_UNKNOWN_KEY' }
    if (typeof parsed.id === 'string' && seen.has(parsed.id)) return { status: 202, duplicate: true }
    // An agent clock more than 2 s off moves every time by its skew; then nothing is after now, nor older than the retention.
    const clock = s.batch.at?.(now)
    const skew = clock !== undefined && Number.isFinite(clock) ? now - clock : 0
    const correction = Math.abs(skew) > 2000 ? skew : 0
    const codes = s.batch.events!.map((e) => e.code ?? (now - Math.min(Math.round(e.ts!(now) + correction), now) > MAX_AGE_MS ? 'too_old' : null))
    if (codes.every((x) => x !== null)) return { status: 400, code: 'VIGIL_NO_VALID_EVENTS', codes }
    return { status: 202, codes }
  }

  const sendShaped = async (s: Shaped) => {
    const now = Date.now()
    const body = write(new Obj(s.batch.fields), now)
    const raw = Buffer.from(body)
    const parsed = JSON.parse(body) as Record<string, unknown>
    // A socket takes 1 MiB at most, and closes past it: larger bodies go over HTTP.
    const transport = raw.length > MAX_BODY_BYTES / 2 ? 'http' : s.transport
    const headers: Record<string, string> = { 'content-type': s.contentType }
    if (s.encoding !== 'identity') headers['content-encoding'] = s.encoding
    if (s.userAgent !== undefined) headers['user-agent'] = s.userAgent
    const expected = oracle(s, parsed, raw.length, now)
    const a = await send(transport, transport === 'http' ? encode[s.encoding](raw) : body, headers, s.keyOnRequest)
    book(transport, parsed, a, expected.codes)
    expect({ status: a.status, code: a.body.code, duplicate: a.body.duplicate }).toEqual({ status: expected.status, code: expected.code, duplicate: expected.duplicate })
    if (expected.status === 202 && !expected.duplicate) {
      const errors = ((a.body.errors ?? []) as { index: number; code: string }[]).map((e) => [e.index, e.code])
      expect(errors).toEqual(expected.codes!.flatMap((code, index) => (code ? [[index, code]] : [])))
    }
    if (expected.code === 'VIGIL_NO_VALID_EVENTS') expect(a.body.message).toContain(`event 0: ${expected.codes![0]}:`)
  }

  const sendGarbage = async (g: Garbage) => {
    const body = typeof g.body === 'function' ? g.body(Date.now()) : g.body
    const raw = Buffer.from(body)
    const transport = typeof body === 'string' ? g.transport : 'http'
    const headers: Record<string, string> = {}
    if (g.contentType !== undefined) headers['content-type'] = g.contentType
    if (g.encoding !== undefined) headers['content-encoding'] = g.encoding
    let parsed: unknown
    try {
      parsed = JSON.parse(raw.toString())
    } catch {
      parsed = undefined
    }
    const a = await send(transport, transport === 'ws' ? (body as string) : raw, headers, 'none')
    book(transport, parsed, a)
    expect(a.status).toBeGreaterThanOrEqual(400)
  }

  it(`answers every request as the format says, and stores exactly what it accepted (seed ${SEED}, ${RUNS} runs)`, async () => {
    const before = await scrape(c.url)
    await fc.assert(
      fc.asyncProperty(fc.oneof({ withCrossShrink: true }, { weight: 4, arbitrary: shaped }, { weight: 1, arbitrary: garbage }), async (r) => {
        if (r.kind === 'shaped') await sendShaped(r)
        else await sendGarbage(r)
      }),
      { seed: SEED, numRuns: RUNS },
    )
    const why = `FUZZ_SEED=${SEED}, ${requests} requests`

    // Everything accepted reaches ClickHouse, as it was sent, and nothing else does.
    await c.app.vigil.stored()
    const stored = (await storedEvents(c.app.vigil.store, 'default', { limit: 1_000_000 })).map((r) =>
      JSON.stringify([r.release, r.env, r.session, r.batch, r.kind, r.name, r.outcome, r.value, r.reason, r.step, r.message, r.stack, r.handled, r.url]),
    )
    const count = (list: string[], key: (row: string) => string) => list.reduce((m, row) => add(m, key(row)), new Map<string, number>())
    expect(count(stored, (r) => JSON.parse(r)[3] as string), `events per batch id, ${why}`).toEqual(count(rows, (r) => JSON.parse(r)[3] as string))
    const [have, want] = [count(stored, (r) => r), count(rows, (r) => r)]
    const short = (m: Map<string, number>, than: Map<string, number>) => [...m].filter(([r, n]) => (than.get(r) ?? 0) < n).map(([r]) => r.slice(0, 400))
    expect({ missing: short(want, have), extra: short(have, want) }, why).toEqual({ missing: [], extra: [] })

    // Every refusal counted by its reason, every accepted event by its kind; nothing quarantined.
    const after = await scrape(c.url)
    const moved = (name: string) => {
      const m = new Map<string, number>()
      for (const [k, v] of after) if (k.startsWith(`${name}{`) && v !== (before.get(k) ?? 0)) m.set(k.slice(name.length), v - (before.get(k) ?? 0))
      return m
    }
    const labelled = (label: string, m: Map<string, number>) => new Map([...m].map(([k, v]) => [`{${label}="${k}"}`, v]))
    expect(moved('vigil_events_refused_total'), why).toEqual(labelled('reason', dropped ? add(new Map(refused), 'agent_outbox_full', dropped) : refused))
    expect(moved('vigil_batches_refused_total'), why).toEqual(labelled('code', batchesRefused))
    expect(moved('vigil_events_accepted_total'), why).toEqual(labelled('kind', acceptedByKind))
    const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0)
    expect([delta('vigil_batches_duplicate_total'), delta('vigil_rows_stored_total'), delta('vigil_rows_quarantined_total')], why).toEqual([duplicates, rows.length, 0])

    expect(await (await fetch(`${c.url}/healthz`)).json()).toMatchObject({ status: 'ok', quarantinedRows: 0 })
  })
})

/** `/metrics` as a map from series (name and labels) to value. */
const scrape = async (url: string) => {
  const m = new Map<string, number>()
  for (const line of (await (await fetch(`${url}/metrics`)).text()).split('\n')) {
    if (!line || line.startsWith('#')) continue
    const i = line.lastIndexOf(' ')
    m.set(line.slice(0, i), Number(line.slice(i + 1)))
  }
  return m
}
