// `npm run demo`: a bad release caught in about a minute, on this machine, with nothing to set up.
//
// Starts the collector (embedded ClickHouse in a temporary directory), a webhook receiver that
// prints the alerts it gets, and simulated users speaking the agent's wire format: 1.0.0 is
// healthy; after 20 s, 1.1.0 rolls out to 20% of users, then 50%, and its login fails for one
// user in five. Open the dashboard URL it prints to watch. Ctrl-C stops it (it stops by itself
// after 10 minutes); everything runs on 127.0.0.1.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const KEY = 'vgl_demo_key_0000000000000000'
const SESSIONS_PER_SECOND = 6
const ROLLOUT_AFTER_S = 20
const MAX_S = 600

const t0 = Date.now()
const clock = () => `${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s`
const say = (s) => process.stdout.write(`[${clock()}] ${s}\n`)

const listen = (server) => new Promise((r) => server.listen(0, '127.0.0.1', () => r(server.address().port)))

// The on-call end: a webhook receiver that prints what it is sent.
let rolloutAt = 0
const receiver = createServer((req, res) => {
  let body = ''
  req.on('data', (c) => (body += c))
  req.on('end', () => {
    res.writeHead(204).end()
    try {
      const { type, data } = JSON.parse(body)
      const since = rolloutAt ? ` — ${((Date.now() - rolloutAt) / 1000).toFixed(0)} s after 1.1.0 started rolling out` : ''
      say(`WEBHOOK ${type}${since}\n         ${data.summary}\n         ${data.dashboard_url}`)
    } catch {
      say(`WEBHOOK (unreadable body) ${body.slice(0, 200)}`)
    }
  })
})
const receiverPort = await listen(receiver)

// The collector, as `npm start` runs it.
const portProbe = createServer()
const port = await listen(portProbe)
await new Promise((r) => portProbe.close(r))
const dataDir = mkdtempSync(join(tmpdir(), 'vigil-demo-'))
const collector = spawn(process.execPath, [join(root, 'dist/collector/main.js')], {
  env: {
    ...process.env,
    VIGIL_PORT: String(port),
    VIGIL_DATA_DIR: dataDir,
    VIGIL_PROJECT_KEY: KEY,
    VIGIL_WEBHOOK_URL: `http://127.0.0.1:${receiverPort}/hook`,
  },
  stdio: ['ignore', 'ignore', 'inherit'],
})
const base = `http://127.0.0.1:${port}`
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`${base}/healthz`)).ok) break
  } catch {
    if (i > 600) throw new Error('the collector did not start')
  }
  await new Promise((r) => setTimeout(r, 100))
}

say(`Vigil demo: collector on ${base}`)
say(`Dashboard: ${base}/`)
say(`1.0.0 serves everyone (${SESSIONS_PER_SECOND} sessions/s, login fails for 2%); 1.1.0 rolls out in ${ROLLOUT_AFTER_S} s.`)

// Simulated users: each session is one batch, as the agent would send it.
let n = 0
const random = (() => {
  let s = 42
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32)
})()
const userSession = async (release, loginFailRate) => {
  const now = Date.now()
  const failed = random() < loginFailRate
  const ev = [
    { t: 'session', ts: now, o: 'start' },
    { t: 'flow', ts: now + 5, n: 'login', o: failed ? 'fail' : 'ok', d: 200 + Math.round(random() * 300), ...(failed ? { re: '401 from /api/session', sp: 'password' } : {}) },
    { t: 'flow', ts: now + 10, n: 'download', o: random() < 0.01 ? 'fail' : 'ok' },
    { t: 'vital', ts: now + 20, n: 'LCP', v: 900 + Math.round(random() * 1200) },
  ]
  const body = JSON.stringify({ k: KEY, id: `demo-${n}`, at: now, r: release, e: 'production', s: `demo-s${n++}`, ev })
  try {
    await fetch(`${base}/v1/ingest`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body })
  } catch {
    // The collector is stopping.
  }
}

let share = 0
const tick = setInterval(() => {
  const elapsed = (Date.now() - t0) / 1000
  if (elapsed >= ROLLOUT_AFTER_S && share === 0) {
    share = 0.2
    rolloutAt = Date.now()
    say('1.1.0 rolls out to 20% of users (its login fails for 20%).')
  }
  if (rolloutAt && share < 0.5 && Date.now() - rolloutAt > 60_000) {
    share = 0.5
    say('1.1.0 now serves 50% of users.')
  }
  for (let i = 0; i < SESSIONS_PER_SECOND / 5; i++) {
    if (random() < share) void userSession('1.1.0', 0.2)
    else void userSession('1.0.0', 0.02)
  }
  if (elapsed > MAX_S) stop('10 minutes are up')
}, 200)

let stopping = false
const stop = (why) => {
  if (stopping) return
  stopping = true
  say(`stopping (${why})`)
  clearInterval(tick)
  collector.once('exit', () => {
    receiver.close()
    rmSync(dataDir, { recursive: true, force: true })
    process.exit(0)
  })
  collector.kill('SIGTERM')
}
process.on('SIGINT', () => stop('Ctrl-C'))
process.on('SIGTERM', () => stop('SIGTERM'))
collector.once('exit', (code) => {
  if (!stopping) {
    say(`the collector exited (${code})`)
    process.exit(1)
  }
})
