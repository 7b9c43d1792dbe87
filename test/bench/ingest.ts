// `npm run bench:ingest`: how many events per second the collector takes in and stores, at what
// latency, against a Fastify route that does nothing with the same body.
//
// This process is the server process: the collector (buildApp, embedded ClickHouse in a fresh
// temporary directory, no rate limit, a known key, the detector quiet) and a separate no-op
// Fastify instance, both on 127.0.0.1 and ephemeral ports. The load comes from another process,
// loadgen.mjs (autocannon), forked here and driven over IPC. No-op first, then ingest; each
// target gets a short warm-up and then the measured run.
//
// It measures, it does not assert: it exits 0 after printing, whether the goals are met or not.
// Environment: BENCH_SECONDS (measured run, default 15), BENCH_WARMUP_SECONDS (default 2),
// BENCH_CONNECTIONS (default 48).
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import Fastify, { type FastifyInstance } from 'fastify'
import { buildApp } from '../../collector/src/app.js'
import { loadConfig } from '../../collector/src/config.js'
import { envInt } from './envInt.js'
import { watchdog } from './watchdog.js'

const SECONDS = envInt('BENCH_SECONDS', 15, 1, 600)
const WARMUP = envInt('BENCH_WARMUP_SECONDS', 2, 0, 60)
const CONNECTIONS = envInt('BENCH_CONNECTIONS', 48, 1, 1024)
const EVENTS_PER_BATCH = 20
const KEY = 'vgl_bench0000000000000000000'
/** The event-loop delay histogram's timer; Node records the time between its ticks, so this is subtracted. */
const ELD_RESOLUTION_MS = 10
const GOALS = { eventsPerSecond: 50_000, p99Ms: 50, ratio: 0.5 }
/** Everything after the load (drain, count, close) must fit in this. */
const DRAIN_TIMEOUT_MS = 45_000
/** The whole run; past it the bench stops, cleans up and exits 1. */
const DEADLINE_MS = 2 * 2 * (WARMUP + SECONDS) * 1000 + 65_000

type LoadResult = {
  label: string
  sent: number
  duration: number
  responses: number
  codes: Record<string, number>
  ok2xx: number
  non2xx: number
  errors: number
  timeouts: number
  latency: { p50: number; p99: number; max: number; mean: number }
  said: { accepted: number; rejected: number; duplicate: number; unreadable: number; rejections: Record<string, number> }
  bodyBytes: number
  loadgenCpu: number
}
type FromLoadgen = { type: 'ready' } | { type: 'result'; result: LoadResult } | { type: 'error'; message: string }

const started = Date.now()
const dataDir = mkdtempSync(join(tmpdir(), 'vigil-bench-'))
let app: FastifyInstance | undefined
let noop: FastifyInstance | undefined
let loadgen: ChildProcess | undefined

const cleanup = async () => {
  loadgen?.kill()
  await noop?.close().catch(() => undefined)
  await app?.close().catch(() => undefined)
  rmSync(dataDir, { recursive: true, force: true })
}

const deadline = watchdog('bench:ingest', DEADLINE_MS, cleanup, dataDir)

// Peak RSS: sampled every 100 ms, and the kernel's high-water mark at the end.
let peakRss = process.memoryUsage.rss()
const rssSampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss())
}, 100)

const waitFor = <T>(what: string, p: Promise<T>, ms: number): Promise<T> =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms).unref())])

/** ClickHouse inserts so far, from the collector's own histogram: how many, and seconds spent. */
const insertStats = async (a: FastifyInstance) => {
  const values = (await a.vigil.metrics.insertSeconds.get()).values
  const of = (suffix: string) => values.find((v) => v.metricName?.endsWith(suffix))?.value ?? 0
  return { count: of('_count'), sum: of('_sum') }
}

const main = async () => {
  // The collector: embedded ClickHouse in a fresh directory, no rate limit, the detector quiet.
  const config = loadConfig({}, { host: '127.0.0.1', port: 0, dataDir, rateLimit: 0, projectKey: KEY, evalIntervalMs: 600_000, logger: false })
  app = await buildApp(config)
  const ingestUrl = `${await app.listen({ host: '127.0.0.1', port: 0 })}/v1/ingest`

  // The baseline: the same HTTP stack parsing the same body as JSON, doing nothing with it.
  noop = Fastify({ logger: false, bodyLimit: 1024 * 1024 })
  noop.removeContentTypeParser(['application/json', 'text/plain'])
  noop.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string))
    } catch (err) {
      done(err as Error)
    }
  })
  noop.post('/noop', async (_req, reply) => reply.code(202).send({}))
  const noopUrl = `${await noop.listen({ host: '127.0.0.1', port: 0 })}/noop`

  // The load generator, in its own process.
  const child = fork(join(import.meta.dirname, 'loadgen.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] })
  loadgen = child
  let pending: { resolve: (r: LoadResult) => void; reject: (e: Error) => void } | undefined
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (m: FromLoadgen) => {
      if (m.type === 'ready') resolve()
      else if (m.type === 'result') pending?.resolve(m.result)
      else if (m.type === 'error') pending?.reject(new Error(`load generator: ${m.message}`))
    })
    child.on('exit', (code) => {
      const err = new Error(`load generator exited (${code})`)
      reject(err)
      pending?.reject(err)
    })
  })
  await waitFor('load generator start', ready, 30_000)
  const load = (label: string, url: string, seconds: number) =>
    new Promise<LoadResult>((resolve, reject) => {
      pending = { resolve, reject }
      child.send({ type: 'run', label, url, key: KEY, connections: CONNECTIONS, seconds })
    })

  const stderr = (s: string) => process.stderr.write(`bench:ingest: ${s}\n`)
  stderr(`${CONNECTIONS} connections, ${WARMUP} s warm-up + ${SECONDS} s measured per target; collector data in ${dataDir}`)

  // 1. No-op.
  if (WARMUP > 0) await load('noop-warmup', noopUrl, WARMUP)
  const noopEld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS })
  noopEld.enable()
  const noopRes = await load('noop', noopUrl, SECONDS)
  noopEld.disable()
  stderr(`no-op: ${noopRes.responses} responses in ${noopRes.duration} s`)

  // 2. Ingest. What the warm-up stored is counted before the measured run and subtracted.
  if (WARMUP > 0) await load('ingest-warmup', ingestUrl, WARMUP)
  await waitFor('drain after warm-up', app.vigil.stored(), DRAIN_TIMEOUT_MS)
  const rowsBefore = await app.vigil.store.countEvents('default')
  const insertsBefore = await insertStats(app)
  const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS })
  const cpuBefore = process.cpuUsage()
  const t0 = performance.now()
  eld.enable()
  const ingestRes = await load('ingest', ingestUrl, SECONDS)
  eld.disable()
  const loadWall = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpuBefore)
  const rowsAtLoadEnd = await app.vigil.store.countEvents('default')
  const tDrain = performance.now()
  let drained = true
  await waitFor('drain after the load', app.vigil.stored(), DRAIN_TIMEOUT_MS).catch((err: Error) => {
    drained = false
    stderr(err.message)
  })
  const drainSeconds = (performance.now() - tDrain) / 1000
  const rows = (await app.vigil.store.countEvents('default')) - rowsBefore
  const insertsAfter = await insertStats(app)
  const inserts = insertsAfter.count - insertsBefore.count
  const insertSum = insertsAfter.sum - insertsBefore.sum
  peakRss = Math.max(peakRss, process.memoryUsage.rss())
  const maxRss = process.resourceUsage().maxRSS * 1024

  // Report.
  // Stored, not accepted: the rows in ClickHouse over the time it took to have them there (the
  // load and then the drain of whatever backlog the spool held when the load ended).
  const eventsPerSecond = rows / (ingestRes.duration + drainSeconds)
  const acceptedPerSecond = ingestRes.said.accepted / ingestRes.duration
  const ingestRps = ingestRes.responses / ingestRes.duration
  const noopRps = noopRes.responses / noopRes.duration
  const ratio = ingestRps / noopRps
  const ms = (ns: number) => Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS).toFixed(1)
  const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`
  const n = (x: number) => Math.round(x).toLocaleString('en-US')
  const mark = (ok: boolean) => (ok ? 'PASS' : 'FAIL')
  const line = (a: string, b: string, c = '', d = '') => `  ${a.padEnd(34)}${b.padStart(18)}${c.padStart(18)}  ${d}`
  const out = [
    '',
    `Vigil ingest benchmark — ${CONNECTIONS} connections, ${SECONDS} s measured (after ${WARMUP} s warm-up), ${EVENTS_PER_BATCH} events/batch, ${ingestRes.bodyBytes} B/batch`,
    '',
    line('', 'ingest', 'no-op', 'goal'),
    line('events/s stored (ClickHouse count)', n(eventsPerSecond), '', `≥ ${n(GOALS.eventsPerSecond)}  ${mark(eventsPerSecond >= GOALS.eventsPerSecond)}`),
    line('events/s accepted (202, on disk)', n(acceptedPerSecond), ''),
    line('requests/s', n(ingestRps), n(noopRps)),
    line('latency p50 (ms)', String(ingestRes.latency.p50), String(noopRes.latency.p50)),
    line('latency p99 (ms)', String(ingestRes.latency.p99), String(noopRes.latency.p99), `< ${GOALS.p99Ms}  ${mark(ingestRes.latency.p99 < GOALS.p99Ms)}`),
    line('latency max (ms)', String(ingestRes.latency.max), String(noopRes.latency.max)),
    line('ratio ingest req/s ÷ no-op req/s', ratio.toFixed(2), '', `≥ ${GOALS.ratio}  ${mark(ratio >= GOALS.ratio)}`),
    line('responses 202 / non-2xx', `${ingestRes.codes['202'] ?? 0} / ${ingestRes.non2xx}`, `${noopRes.codes['202'] ?? 0} / ${noopRes.non2xx}`),
    line('socket errors / timeouts', `${ingestRes.errors} / ${ingestRes.timeouts}`, `${noopRes.errors} / ${noopRes.timeouts}`),
    line('event-loop delay p50 / p99 / max', `${ms(eld.percentile(50))} / ${ms(eld.percentile(99))} / ${ms(eld.max)}`, `${ms(noopEld.percentile(50))} / ${ms(noopEld.percentile(99))} / ${ms(noopEld.max)}`, '(ms, server process)'),
    line('server CPU during load (cores)', ((cpu.user + cpu.system) / 1e6 / loadWall).toFixed(2), '', '(whole process: JS + chDB threads)'),
    line('load generator CPU (cores)', ingestRes.loadgenCpu.toFixed(2), noopRes.loadgenCpu.toFixed(2)),
    line('peak RSS, server process', `${mb(peakRss)} sampled`, `${mb(maxRss)} max`),
    '',
    `  events/s stored = rows in ClickHouse for the measured run (count after the drain − count before it = ${n(rows)})`,
    `                    ÷ (autocannon's measured duration ${ingestRes.duration} s + drain ${drainSeconds.toFixed(1)} s).`,
    `  accepted (sum of the 202 bodies' "accepted"): ${n(ingestRes.said.accepted)} events in ${n(ingestRes.ok2xx)} batches, rejected ${n(ingestRes.said.rejected)},` +
      ` duplicate batches ${ingestRes.said.duplicate};`,
    `  stored: ${n(rowsAtLoadEnd - rowsBefore)} when the load ended, ${n(rows)} after the drain (${drainSeconds.toFixed(1)} s${drained ? '' : ', TIMED OUT'});` +
      ` the batches in flight when autocannon stopped are stored but not counted as responses.`,
    `  over the load alone (ignoring the drain): ${n(rows / ingestRes.duration)} events/s.`,
    `  ClickHouse inserts (measured run + drain): ${n(inserts)}, mean ${inserts ? ((insertSum / inserts) * 1000).toFixed(0) : '-'} ms,` +
      ` ${n(rows / Math.max(1, inserts))} rows each; busy ${insertSum.toFixed(1)} s of ${(loadWall + drainSeconds).toFixed(1)} s.`,
  ]
  const rejections = Object.entries(ingestRes.said.rejections)
  if (rejections.length > 0) out.push(`  rejected events by code: ${rejections.map(([c, k]) => `${c}×${k}`).join(', ')}`)
  const bad = Object.entries(ingestRes.codes).filter(([c]) => !c.startsWith('2'))
  if (bad.length > 0) out.push(`  ingest non-2xx status codes: ${bad.map(([c, k]) => `${c}×${k}`).join(', ')}`)
  const badNoop = Object.entries(noopRes.codes).filter(([c]) => !c.startsWith('2'))
  if (badNoop.length > 0) out.push(`  no-op non-2xx status codes: ${badNoop.map(([c, k]) => `${c}×${k}`).join(', ')}`)
  out.push(`  total time ${((Date.now() - started) / 1000).toFixed(0)} s`, '')
  console.log(out.join('\n'))

  child.send({ type: 'exit' })
}

try {
  await main()
} catch (err) {
  console.error('bench:ingest failed:', err)
  process.exitCode = 1
} finally {
  clearInterval(rssSampler)
  await Promise.race([cleanup(), new Promise((r) => setTimeout(r, 10_000))])
  rmSync(dataDir, { recursive: true, force: true })
  clearTimeout(deadline)
}
// chDB or a stray handle must not keep the bench alive once it has printed and cleaned up.
process.exit(process.exitCode ?? 0)
