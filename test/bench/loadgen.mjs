// The load generator of `npm run bench:ingest`, a separate process forked by ingest.ts: it gets
// {type: 'run', label, url, key, connections, seconds, format} over IPC, runs autocannon against
// 127.0.0.1 with realistic batches in the wire format (format 'native'), Sentry envelopes as
// the browser SDK sends them ('sentry'), or OTLP/HTTP JSON trace exports ('otlp'), and answers
// {type: 'result', …}.
//
// Batches: 20 events each — 13 flows, 4 errors with multi-line Chrome stacks (each kind of error
// thrown from one of three places), 2 vitals, 1 session — from 256 pre-serialised templates (several releases, environments, sessions). Each
// request gets a fresh, unique batch id and fresh `at`/`ts`, stamped into the template's text
// (the collector stores a batch id once, so a repeated id would only measure deduplication).
// The stacks' frames point at real positions of the minified assets whose source maps the bench
// built (the file named by the first argument: releases and, per asset, positions that map).
import { readFileSync } from 'node:fs'
import autocannon from 'autocannon'

const TEMPLATES = 256
const USER_AGENT =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'

// A small seeded PRNG (mulberry32): the same batches on every run.
const rng = (seed) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const random = rng(0x5eed)
const pick = (list) => list[Math.floor(random() * list.length)]
const weighted = (pairs) => {
  let x = random() * pairs.reduce((s, [, w]) => s + w, 0)
  for (const [v, w] of pairs) if ((x -= w) < 0) return v
  return pairs[pairs.length - 1][0]
}
const hex = (n) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('')
const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1))

const { releases: RELEASES, positions: POSITIONS } = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const ENVS = [['production', 9], ['staging', 1]]
const ORIGIN = 'https://app.example.com'
const PAGES = ['/login', '/library', '/plans', '/checkout', '/downloads', '/player/8f3a', '/settings/account']
const ASSETS = Object.keys(POSITIONS)
const FUNCS = ['renderPlans', 'PlanList', 'commitRoot', 'performSyncWorkOnRoot', 'flushPassiveEffects', 'Object.onSuccess', 'fetchManifest', 'resumeDownload', 'useLibrary', 'Array.map', 'mountIndeterminateComponent', 'beginWork', 'HTMLUnknownElement.callCallback', 'invokeGuardedCallbackDev', 'async Promise.all', 'loadSegment', 'applyCoupon']
const ERRORS = [
  ['TypeError', "Cannot read properties of null (reading 'map')"],
  ['TypeError', "Cannot read properties of undefined (reading 'length')"],
  ['TypeError', 'Failed to fetch'],
  ['RangeError', 'Maximum call stack size exceeded'],
  ['ReferenceError', 'structuredClone is not defined'],
  ['Error', 'Minified React error #418; visit https://react.dev/errors/418 for the full message'],
  ['QuotaExceededError', "Failed to execute 'put' on 'Cache': Quota exceeded."],
  ['SyntaxError', "Unexpected token '<', \"<!DOCTYPE \"... is not valid JSON"],
]
const FLOWS = {
  login: { steps: ['form', 'password', 'mfa', 'session'], reasons: ['401 from /api/session', 'mfa code rejected', 'network error: Failed to fetch', 'captcha failed to load'], ms: [300, 2500] },
  download: { steps: ['manifest', 'chunks', 'verify', 'store'], reasons: ['503 from /cdn/chunk/17', 'checksum mismatch on chunk 4', 'QuotaExceededError: storage full', 'network changed'], ms: [1500, 45000] },
  checkout: { steps: ['cart', 'address', 'payment', '3ds', 'confirm'], reasons: ['card_declined', '3DS challenge timed out', '500 from /api/orders', 'coupon invalid'], ms: [4000, 90000] },
  'offline-playback': { steps: ['license', 'open-cache', 'decode', 'first-frame'], reasons: ['license expired offline', 'segment 12 missing from cache', 'MEDIA_ERR_DECODE', 'DRM key not usable'], ms: [200, 6000] },
}
const VITALS = { LCP: [600, 6000], INP: [40, 800], CLS: [0, 0.4], FCP: [300, 3500], TTFB: [50, 1800] }

const frameAt = () => {
  const asset = pick(ASSETS)
  const [line, col] = pick(POSITIONS[asset])
  return `    at ${pick(FUNCS)} (${ORIGIN}/assets/${asset}:${line}:${col})`
}
// An app throws each kind of error from a few places, reached by many paths: three sites per
// error, the frames under them as they come.
const SITES = new Map(ERRORS.map(([ty, m]) => [`${ty}: ${m}`, [frameAt(), frameAt(), frameAt()]]))
const stack = (ty, m) => {
  const frames = int(6, 10)
  const lines = [`${ty}: ${m}`, pick(SITES.get(`${ty}: ${m}`))]
  for (let i = 1; i < frames; i++) lines.push(i === 2 && random() < 0.3 ? '    at Array.forEach (<anonymous>)' : frameAt())
  return lines.join('\n')
}

/** Text split at its slots (`"@@NAME@@"`): literals between them, and the slots' names. */
const slotted = (value) => {
  const parts = JSON.stringify(value).split(/"@@(\w+)@@"/)
  return { literals: parts.filter((_, i) => i % 2 === 0), slots: parts.filter((_, i) => i % 2 === 1) }
}

/**
 * A Sentry envelope as @sentry/browser sends one: a session at each page load (half of them), or
 * an error event (its frames oldest first, as Sentry orders them). One event of ours each. Slots:
 * ID (a fresh 32-hex event id, or session id), ISO (now, RFC 3339), SEC (now, seconds).
 */
const sentryTemplate = (i) => {
  const release = weighted(RELEASES)
  const environment = weighted(ENVS)
  const sdk = { name: 'sentry.javascript.browser', version: '11.12.0' }
  if (i % 2 === 0) {
    const session = { sid: '@@ID@@', init: true, started: '@@ISO@@', timestamp: '@@ISO@@', status: 'ok', errors: 0, attrs: { release, environment, user_agent: USER_AGENT } }
    const head = slotted({ sent_at: '@@ISO@@', sdk })
    const body = slotted(session)
    return { literals: [...head.literals.slice(0, -1), head.literals.at(-1) + '\n{"type":"session"}\n' + body.literals[0], ...body.literals.slice(1)], slots: [...head.slots, ...body.slots], offsets: [] }
  }
  const [type, value] = pick(ERRORS)
  const frames = stack(type, value).split('\n').slice(1).reverse().map((line) => {
    const m = /at (?:(.+) \()?(.+?):(\d+):(\d+)\)?$/.exec(line)
    return m ? { filename: m[2], function: m[1] ?? '?', in_app: true, lineno: Number(m[3]), colno: Number(m[4]) } : { filename: '<anonymous>', function: 'Array.forEach', in_app: false }
  })
  const event = {
    exception: { values: [{ type, value, stacktrace: { frames }, mechanism: { type: 'auto.browser.global_handlers.onerror', handled: random() < 0.4 } }] },
    level: 'error', event_id: '@@ID@@', platform: 'javascript', timestamp: '@@SEC@@', environment, release, sdk,
    request: { url: ORIGIN + pick(PAGES), headers: { 'User-Agent': USER_AGENT } },
    contexts: { trace: { trace_id: hex(32), span_id: hex(16) } },
  }
  const head = slotted({ event_id: '@@ID@@', sent_at: '@@ISO@@', sdk, trace: { environment, release, public_key: '@@KEY@@', trace_id: hex(32) } })
  const body = slotted(event)
  return { literals: [...head.literals.slice(0, -1), head.literals.at(-1) + '\n{"type":"event"}\n' + body.literals[0], ...body.literals.slice(1)], slots: [...head.slots, ...body.slots], offsets: [] }
}

/**
 * An OTLP/HTTP JSON export as the OpenTelemetry JS exporter sends one: a resource (release,
 * environment, a fresh instance id — the slot ID — so no two exports are the same bytes) and 20
 * root spans of the app's flows, each with its session, 15% failed, 4 with an exception event.
 * Times: the slot NS (now, in unix nanoseconds).
 */
const otlpTemplate = () => {
  const attr = (key, v) => ({ key, value: typeof v === 'number' ? { intValue: v } : { stringValue: v } })
  const session = hex(16)
  const spans = Array.from({ length: 20 }, (_, i) => {
    const name = weighted([['login', 3], ['download', 3], ['checkout', 2], ['offline-playback', 2]])
    const failed = random() < 0.15
    const events = []
    if (i % 5 === 0) {
      const [type, value] = pick(ERRORS)
      events.push({ name: 'exception', timeUnixNano: '@@NS@@', attributes: [attr('exception.type', type), attr('exception.message', value), attr('exception.stacktrace', stack(type, value))] })
    }
    return {
      traceId: hex(32), spanId: hex(16), name, kind: 1, startTimeUnixNano: '@@NS@@', endTimeUnixNano: '@@NS@@',
      attributes: [attr('session.id', session), attr('url.full', ORIGIN + pick(PAGES))], events,
      status: failed ? { code: 2, message: pick(FLOWS[name].reasons) } : { code: 0 },
    }
  })
  const resource = { attributes: [attr('service.name', 'shop'), attr('service.version', weighted(RELEASES)), attr('deployment.environment.name', weighted(ENVS)), attr('service.instance.id', '@@ID@@')] }
  return { ...slotted({ resourceSpans: [{ resource, scopeSpans: [{ scope: { name: 'shop' }, spans }] }] }), offsets: [] }
}

/** A batch's text, split at its slots: the batch id, `at`, and each event's `ts` (`at` minus an offset). */
const template = () => {
  const url = () => ORIGIN + pick(PAGES) + (random() < 0.3 ? `?ref=${hex(6)}` : '')
  const ev = []
  const offsets = []
  const ts = () => {
    offsets.push(int(0, 30_000))
    return `@@T${offsets.length - 1}@@`
  }
  for (let i = 0; i < 13; i++) {
    const n = weighted([['login', 3], ['download', 3], ['checkout', 2], ['offline-playback', 2]])
    const f = FLOWS[n]
    const o = weighted([['ok', 85], ['fail', 10], ['timeout', 4], ['abandoned', 1]])
    const e = { t: 'flow', ts: ts(), n, o, d: int(f.ms[0], f.ms[1]), u: url() }
    if (o === 'fail' || o === 'timeout') Object.assign(e, { re: pick(f.reasons), sp: pick(f.steps) })
    if (o === 'abandoned') e.sp = pick(f.steps)
    ev.push(e)
  }
  for (let i = 0; i < 4; i++) {
    const [ty, m] = i === 0 ? ERRORS[0] : pick(ERRORS)
    ev.push({ t: 'error', ts: ts(), ty, m, st: stack(ty, m), h: random() < 0.4, u: url() })
  }
  for (let i = 0; i < 2; i++) {
    const n = pick(Object.keys(VITALS))
    const [lo, hi] = VITALS[n]
    ev.push({ t: 'vital', ts: ts(), n, v: n === 'CLS' ? Math.round(random() * hi * 1000) / 1000 : int(lo, hi), u: url() })
  }
  ev.push({ t: 'session', ts: ts(), o: weighted([['start', 2], ['ok', 6], ['errored', 2], ['crashed', 0.2]]) })
  // Shuffle, as a real outbox interleaves them.
  for (let i = ev.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[ev[i], ev[j]] = [ev[j], ev[i]]
  }
  const env = { k: '@@KEY@@', id: '@@ID@@', at: '@@AT@@', r: weighted(RELEASES), e: weighted(ENVS), s: hex(16), ev }
  return { ...slotted(env), offsets }
}

const templates = {
  native: Array.from({ length: TEMPLATES }, template),
  sentry: Array.from({ length: TEMPLATES }, (_, i) => sentryTemplate(i)),
  otlp: Array.from({ length: TEMPLATES }, otlpTemplate),
}

const run = async ({ label, url, key, connections, seconds, format = 'native' }) => {
  let n = 0
  const runTag = `${label}-${process.pid}-${Date.now().toString(36)}`
  // Sentry's ids are 32 hex digits: this run's own prefix, then the request's number.
  const hexTag = (process.pid.toString(16) + Date.now().toString(16)).slice(-20)
  const body = () => {
    const t = templates[format][n % TEMPLATES]
    const id = format === 'sentry' ? hexTag + n.toString(16).padStart(12, '0') : `${runTag}-${n.toString(36)}`
    n++
    const at = Date.now()
    const value = { ID: `"${id}"`, AT: at, KEY: `"${key}"`, ISO: `"${new Date(at).toISOString()}"`, SEC: at / 1000, NS: `"${at}000000"` }
    let s = t.literals[0]
    for (let i = 0; i < t.slots.length; i++) {
      const slot = t.slots[i]
      s += value[slot] ?? at - t.offsets[Number(slot.slice(1))]
      s += t.literals[i + 1]
    }
    return s
  }
  // What the collector said it accepted (202 bodies), to compare with what ClickHouse holds.
  const said = { accepted: 0, rejected: 0, duplicate: 0, unreadable: 0, rejections: {} }
  const onResponse = (status, text) => {
    if (format === 'otlp' && status === 200) said.accepted += otlpEvents
    if ((status !== 202 && status !== 200) || text === '{}') return
    try {
      const r = JSON.parse(text)
      said.accepted += r.accepted ?? 0
      said.rejected += r.rejected ?? 0
      if (r.duplicate) said.duplicate++
      for (const e of r.errors ?? []) said.rejections[e.code] = (said.rejections[e.code] ?? 0) + 1
    } catch {
      said.unreadable++
    }
  }
  const cpu = process.cpuUsage()
  const started = performance.now()
  // OTLP's answers do not count what was taken (an empty partial success): each export's 20 flows and 4 errors.
  const otlpEvents = 24
  const result = await autocannon({
    url,
    method: 'POST',
    connections,
    duration: seconds,
    headers: { 'content-type': format === 'otlp' ? 'application/json' : 'text/plain;charset=UTF-8', 'user-agent': USER_AGENT, origin: ORIGIN, ...(format === 'otlp' ? { 'x-vigil-key': key } : {}) },
    requests: [{ setupRequest: (req) => ({ ...req, body: body() }), onResponse }],
  })
  const wall = (performance.now() - started) / 1000
  const used = process.cpuUsage(cpu)
  const codes = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([c, v]) => [c, v.count]))
  return {
    label,
    sent: n,
    duration: result.duration,
    responses: Object.values(codes).reduce((a, b) => a + b, 0),
    codes,
    ok2xx: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    latency: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max, mean: result.latency.mean },
    said,
    bodyBytes: body().length,
    loadgenCpu: (used.user + used.system) / 1e6 / wall,
  }
}

process.on('message', (msg) => {
  if (msg?.type === 'run') {
    run(msg).then(
      (result) => process.send({ type: 'result', result }),
      (err) => process.send({ type: 'error', message: String(err?.stack ?? err) }),
    )
  } else if (msg?.type === 'exit') {
    process.disconnect()
  }
})
process.on('disconnect', () => process.exit(0))
process.send({ type: 'ready' })
