// The clients of `npm run bench:scale`'s mixed case, a process of their own (forked by
// scaleMixed.ts) so that making the load does not take the collector's event loop. It gets
// {type: 'run', url, key, seconds, rate, tabs, canary} over IPC and answers {type: 'result', …}.
//
// - Load: `rate` events/s as wire-format batches over HTTP, one browser session per batch (20
//   events: session start and end, a login, 6 downloads, 4 offline playbacks, 5 vitals, 2 errors
//   with 1–2 KB stacks), paced evenly (not autocannon's per-second bursts), at most MAX_IN_FLIGHT
//   requests open. Release 1.9.0 in production (the canary's baseline: login fails in ~2% of
//   sessions), 10% of sessions in staging.
// - Canary: from `canary.afterS`, `canary.perSecond` sessions/s of `canary.release` in
//   production, login failing in `canary.fail` of them, each its own batch.
// - Tabs: `tabs` live feeds (WebSocket /v1/live); after each look a tab reads the overview, every
//   other time the canary's page instead; a look during a read is one more read after it.
import http from 'node:http'
import WebSocket from 'ws'

/** Requests open at once, at most: a browser population is open-ended, a generator needs a bound. */
const MAX_IN_FLIGHT = 128
const TICK_MS = 10
const ORIGIN = 'https://app.example.com'
const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
const BASELINE = '1.9.0'
const EVENTS_PER_SESSION = 20

// A seeded PRNG (mulberry32): the same sessions on every run.
let seed = 0x5ca1e
const random = () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const pick = (xs) => xs[Math.floor(random() * xs.length)]
const logNormal = (median, sigma) => median * Math.exp(sigma * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()))

const FUNCS = ['renderLibrary', 'useDownloads', 'commitRoot', 'performWork', 'fetchJson', 'openStore', 'decodeSegment', 'onMessage']
const ERRORS = [
  ['TypeError', "Cannot read properties of undefined (reading 'map')"],
  ['TypeError', 'Failed to fetch'],
  ['Error', 'Request failed with status code 503'],
  ['QuotaExceededError', "Failed to execute 'put' on 'Cache': Quota exceeded."],
  ['SyntaxError', 'Unexpected token < in JSON at position 0'],
  ['Error', 'ChunkLoadError: Loading chunk 742 failed'],
]
/** 12 groups: each error from two places, a 1–2 KB minified stack each. */
const GROUPS = Array.from({ length: 12 }, (_, k) => {
  const [ty, m] = ERRORS[k % ERRORS.length]
  const lines = [`${ty}: ${m}`]
  const target = 1024 + Math.floor(random() * 1024)
  for (let f = 0; lines.join('\n').length < target; f++) lines.push(`    at ${FUNCS[(k + f * 3) % FUNCS.length]} (${ORIGIN}/assets/app-4f2a9c1e.js:1:${1000 + ((k * 977 + f * 131) % 90000)})`)
  return { ty, m, st: lines.join('\n') }
})

let sessions = 0
const sessionId = () => `${process.pid.toString(36)}-${(sessions++).toString(36)}-${Math.floor(random() * 2 ** 32).toString(36)}`

/** One flow run: ok, or failed with a reason at a step. */
const flow = (ts, n, fail) => (random() < fail ? { t: 'flow', ts, n, o: 'fail', d: Math.round(300 + random() * 8000), re: `${n} failed: 401 from /api/${n}`, sp: 'request' } : { t: 'flow', ts, n, o: 'ok', d: Math.round(200 + random() * 3000) })

/** A load session's batch: 20 events, times over the last 30 s. */
const loadBatch = (key, id) => {
  const now = Date.now()
  const at = (k) => now - 30_000 + k * 1500
  const crashed = random() < 0.015
  const ev = [{ t: 'session', ts: at(0), o: 'start' }, flow(at(1), 'login', 0.02)]
  for (let i = 0; i < 6; i++) ev.push(flow(at(2 + i), 'download', 0.003))
  for (let i = 0; i < 4; i++) ev.push(flow(at(8 + i), 'offline-playback', 0.005))
  for (const [n, median, sigma] of [['LCP', 2100, 0.5], ['FCP', 1300, 0.5], ['TTFB', 450, 0.6], ['CLS', 0.04, 1], ['INP', 160, 0.6]])
    ev.push({ t: 'vital', ts: at(12), n, v: Math.round(logNormal(median, sigma) * 1000) / 1000 })
  for (let i = 0; i < 2; i++) ev.push({ t: 'error', ts: at(13 + i), ...pick(GROUPS), h: !(crashed && i === 1), u: `${ORIGIN}/library` })
  ev.push({ t: 'session', ts: at(15), o: crashed ? 'crashed' : 'ok' })
  const env = random() < 0.1 ? 'staging' : 'production'
  return JSON.stringify({ k: key, id, at: now, r: BASELINE, e: env, s: sessionId(), ev })
}

/** A canary session's batch: start, a login failing in `fail` of sessions, two downloads, the end. */
const canaryBatch = (key, release, fail) => {
  const now = Date.now()
  const login = flow(now - 2000, 'login', fail)
  const ev = [{ t: 'session', ts: now - 4000, o: 'start' }, login, flow(now - 1500, 'download', 0.003), flow(now - 1000, 'download', 0.003), { t: 'session', ts: now, o: 'ok' }]
  return { body: JSON.stringify({ k: key, id: `canary-${sessionId()}`, at: now, r: release, e: 'production', s: sessionId(), ev }), failedAt: login.o === 'fail' ? login.ts : 0 }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT })
/** POSTs a body; resolves to the status (0: the request failed) and the time it took. */
const post = (url, body) =>
  new Promise((resolve) => {
    const t = performance.now()
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': UA, origin: ORIGIN } }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t }))
    })
    req.on('error', () => resolve({ status: 0, ms: performance.now() - t }))
    req.setTimeout(30_000, () => req.destroy())
    req.end(body)
  })

const count = (codes, status) => void (codes[status] = (codes[status] ?? 0) + 1)

/** Sends `rate` events/s for `seconds`, evenly; resolves when the last answer is in. */
const load = async ({ url, key, seconds, rate }) => {
  const perSecond = rate / EVENTS_PER_SESSION
  const out = { sent: 0, codes: {}, ms: [], bodyBytes: 0, behindTicks: 0, seconds: 0 }
  let inFlight = 0
  const start = performance.now()
  const runTag = `load-${process.pid}-${Date.now().toString(36)}`
  await new Promise((done) => {
    const timer = setInterval(() => {
      const elapsed = (performance.now() - start) / 1000
      const due = Math.min(seconds, elapsed) * perSecond - out.sent
      if (due >= 1 && inFlight >= MAX_IN_FLIGHT) out.behindTicks++
      for (let i = 0; i < due && inFlight < MAX_IN_FLIGHT; i++) {
        const body = loadBatch(key, `${runTag}-${out.sent.toString(36)}`)
        out.sent++
        out.bodyBytes += body.length
        inFlight++
        void post(url, body).then(({ status, ms }) => {
          inFlight--
          count(out.codes, status)
          out.ms.push(ms)
        })
      }
      if (elapsed >= seconds) {
        clearInterval(timer)
        const wait = setInterval(() => inFlight === 0 && (clearInterval(wait), done()), 20)
      }
    }, TICK_MS)
  })
  out.seconds = (performance.now() - start) / 1000
  return out
}

/** Canary sessions until `stop()`; the time of the first failing login. */
const canary = ({ url, key, canary: c }) => {
  const out = { sessions: 0, failed: 0, firstFailAt: 0, codes: {} }
  let timer
  const begin = setTimeout(() => {
    timer = setInterval(() => {
      const { body, failedAt } = canaryBatch(key, c.release, c.fail)
      out.sessions++
      if (failedAt) out.failed++
      if (failedAt && !out.firstFailAt) out.firstFailAt = failedAt
      void post(url, body).then(({ status }) => count(out.codes, status))
    }, 1000 / c.perSecond)
  }, c.afterS * 1000)
  return { out, stop: () => (clearTimeout(begin), clearInterval(timer)) }
}

/** One tab: reads after each look it is told of. */
const tab = (base, release, i, reads) => {
  const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/live`)
  let busy = false
  let again = false
  let n = i
  let open = true
  const read = async () => {
    busy = true
    do {
      again = false
      const route = n++ % 2 === 0 ? 'overview' : 'release'
      const path = route === 'overview' ? '/v1/overview?range=1h' : `/v1/releases/${release}?range=1h`
      const t = performance.now()
      const status = await fetch(`${base}${path}`).then(async (r) => (await r.arrayBuffer(), r.status), () => 0)
      reads.push({ route, ms: performance.now() - t, status })
    } while (again && open)
    busy = false
  }
  ws.on('message', (data) => {
    if (!open || JSON.parse(String(data)).type !== 'look') return
    if (busy) again = true
    else void read()
  })
  ws.on('error', () => undefined)
  return () => {
    open = false
    ws.close()
  }
}

const run = async (msg) => {
  const ingest = `${msg.url}/v1/ingest`
  const reads = []
  const tabs = Array.from({ length: msg.tabs }, (_, i) => tab(msg.url, msg.canary.release, i, reads))
  const c = canary({ ...msg, url: ingest })
  const cpu = process.cpuUsage()
  const result = await load({ ...msg, url: ingest })
  c.stop()
  for (const close of tabs) close()
  const used = process.cpuUsage(cpu)
  const ms = result.ms.sort((a, b) => a - b)
  const q = (p) => ms[Math.min(ms.length - 1, Math.ceil(p * ms.length) - 1)] ?? 0
  return { ...result, ms: undefined, latency: { p50: q(0.5), p99: q(0.99), max: ms.at(-1) ?? 0 }, canary: c.out, reads, cpuCores: (used.user + used.system) / 1e6 / result.seconds }
}

process.on('message', (msg) => {
  if (msg?.type === 'run')
    run(msg).then(
      (result) => process.send({ type: 'result', result }),
      (err) => process.send({ type: 'error', message: String(err?.stack ?? err) }),
    )
})
process.on('disconnect', () => process.exit(0))
process.send({ type: 'ready' })
