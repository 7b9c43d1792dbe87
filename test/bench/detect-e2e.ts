/**
 * Detection in real time, end to end: real Chromium users load a page with the agent's script
 * tag, the collector (embedded ClickHouse, the detector at its default 5 s) stores what they send,
 * and a real webhook receiver on 127.0.0.1 gets the alert. Prints the wall-clock delay from the
 * first bad event (the first failed login on the new release, as the page timed it) to the
 * alert's arrival. Bounded: stops at the alert or after BENCH_E2E_SECONDS (default 240).
 */
import { launchChromium } from '../helpers/browser.js'
import { startCollector, tempDir } from '../helpers/collector.js'
import { html, startAppServer } from '../helpers/appServer.js'
import { startReceiver } from '../helpers/receiver.js'

const LIMIT_S = Number(process.env.BENCH_E2E_SECONDS ?? 240)
const CONCURRENCY = 4
const NEW_SHARE = 0.3
const OLD_FAIL = 0.02
const NEW_FAIL = 0.2

const dir = tempDir('vigil-bench-e2e-')
const receiver = await startReceiver()
const collector = await startCollector({ dataDir: dir.path, webhookUrl: receiver.url, rateLimit: 0 })
const key = collector.app.vigil.defaultProject.ingestKey
const login = `<script>
window.runLogin = (succeed) => new Promise((resolve) => {
  const f = vigil.flow('login')
  setTimeout(() => { const at = Date.now(); succeed ? f.ok() : f.fail('401'); vigil.flush(); resolve(at) }, 5)
})</script>`
const pages = await startAppServer(collector.url, {
  '/app': (q) => html({ collector: collector.url, key, release: q.get('release') ?? '', env: 'production', head: login }),
})
const browser = await launchChromium()

let seed = 7
const random = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32)
let firstBad = 0
let lastNewDelivered = 0
let sessions = { old: 0, new: 0 }
const started = Date.now()

/** One user: a fresh browser profile, a page load, one login. The old release serves first, as in any rollout. */
const user = async (onlyOld = false) => {
  const isNew = !onlyOld && random() < NEW_SHARE
  const fails = random() < (isNew ? NEW_FAIL : OLD_FAIL)
  const context = await browser.newContext()
  try {
    const page = await context.newPage()
    await page.goto(`${pages.origin}/app?release=${isNew ? '1.1.0' : '1.0.0'}`)
    const delivered = page.waitForResponse((r) => r.url().endsWith('/v1/ingest'))
    const at = await page.evaluate((ok) => (window as unknown as { runLogin: (ok: boolean) => Promise<number> }).runLogin(ok), !fails)
    await delivered
    if (isNew && fails && !firstBad) firstBad = at
    if (isNew && receiver.received.length === 0) lastNewDelivered = Date.now()
    sessions = isNew ? { ...sessions, new: sessions.new + 1 } : { ...sessions, old: sessions.old + 1 }
  } finally {
    await context.close()
  }
}

process.stdout.write(`bench:detect (real time): login ${OLD_FAIL * 100}% on 1.0.0, ${NEW_FAIL * 100}% on 1.1.0 (${NEW_SHARE * 100}% of users), Chromium, detector every 5 s\n`)
for (let i = 0; i < 8; i++) await user(true)
const workers = Array.from({ length: CONCURRENCY }, async () => {
  while (receiver.received.length === 0 && Date.now() - started < LIMIT_S * 1000) await user().catch(() => undefined)
})
await Promise.all(workers)
const alertAt = receiver.received[0]?.at ?? 0
const elapsed = (Date.now() - started) / 1000
const alert = receiver.received[0]?.json as { data?: { summary?: string } } | undefined

process.stdout.write(
  [
    '',
    `  sessions: 1.1.0 ${sessions.new}, 1.0.0 ${sessions.old} in ${elapsed.toFixed(0)} s (${(sessions.new / elapsed).toFixed(2)} sessions/s on the bad release)`,
    alert
      ? `  alert after ${((alertAt - firstBad) / 1000).toFixed(1)} s of wall clock from the first bad event (agent batching, ingest, spool, ClickHouse, detector, webhook): ${alert.data?.summary}`
      : `  no alert within ${LIMIT_S} s`,
    ...(alert
      ? [`  of which the collector's part: ${((alertAt - lastNewDelivered) / 1000).toFixed(1)} s from the last 1.1.0 session delivered before the alert (looks every 5 s)`]
      : []),
    '',
  ].join('\n'),
)
await browser.close()
await pages.close()
await collector.close()
await receiver.close()
dir.remove()
process.exit(0)
