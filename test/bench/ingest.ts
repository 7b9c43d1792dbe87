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
//
// Ingest runs on the same bodies without source maps and with maps for every release and asset
// the stacks name (real minified bundles esbuild builds here, ~650 KB maps), so every error is
// symbolicated and regrouped on its way into ClickHouse: in rounds, without, with, with,
// without (maps uploaded, then deleted again), so a drift of the machine does not pass for their
// difference (BENCH_ROUNDS, default 2). Then other clients, maps off, printed beside the native
// path: Sentry envelopes (what @sentry/browser sends: a session per page load, an event per error)
// through /api/1/envelope/, and OTLP/HTTP JSON trace exports (20 root spans the project names as
// flows, 4 with an exception) through /v1/traces. Then the time to symbolicate one frame with a cold cache (the map read from
// ClickHouse and parsed) and a warm one.
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import Fastify, { type FastifyInstance } from 'fastify'
import { writeFileSync } from 'node:fs'
import { buildApp } from '../../collector/src/app.js'
import { loadConfig } from '../../collector/src/config.js'
import { makeBundles } from './bundles.js'
import { envInt } from './envInt.js'
import { watchdog } from './watchdog.js'
import { countEvents, runSql } from '../helpers/storeQueries.js'

const SECONDS = envInt('BENCH_SECONDS', 15, 1, 600)
const WARMUP = envInt('BENCH_WARMUP_SECONDS', 2, 0, 60)
const CONNECTIONS = envInt('BENCH_CONNECTIONS', 48, 1, 1024)
const ROUNDS = envInt('BENCH_ROUNDS', 2, 1, 10)
const EVENTS_PER_BATCH = 20
const KEY = 'vgl_bench0000000000000000000'
/** The event-loop delay histogram's timer; Node records the time between its ticks, so this is subtracted. */
const ELD_RESOLUTION_MS = 10
const GOALS = { eventsPerSecond: 50_000, p99Ms: 50, ratio: 0.5 }
/** Everything after the load (drain, count, close) must fit in this. */
const DRAIN_TIMEOUT_MS = 45_000
/** The whole run; past it the bench stops, cleans up and exits 1. */
const DEADLINE_MS = (3 + 2 * ROUNDS) * 2 * (WARMUP + SECONDS) * 1000 + 120_000
const RELEASES: [string, number][] = [['4.12.0', 2], ['4.12.1', 5], ['4.13.0', 3], ['4.13.1-rc.2', 1]]
const ASSETS = ['index-3f9a1c7e.js', 'vendor-react-b41d02aa.js', 'plans-9c0e1f52.js', 'player-77ab3d19.js', 'checkout-e2d40b6c.js', 'sync-worker-0a5f8e31.js']

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

type IngestRun = {
  res: LoadResult
  rows: number
  rowsAtLoadEnd: number
  drainSeconds: number
  drained: boolean
  eld: ReturnType<typeof monitorEventLoopDelay>
  cpuCores: number
  loadWall: number
  inserts: number
  insertSum: number
  /** Errors regrouped by source maps, and the seconds the drainer spent on it. */
  regrouped: number
  regroupSeconds: number
}

/** Errors regrouped by source maps so far, and seconds spent on it, from the collector's metrics. */
const regroupStats = async (a: FastifyInstance) => {
  const values = (await a.vigil.metrics.regroupSeconds.get()).values
  return { seconds: values.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0, regrouped: (await a.vigil.metrics.errorsRegrouped.get()).values[0]?.value ?? 0 }
}

const main = async () => {
  const stderr = (s: string) => process.stderr.write(`bench:ingest: ${s}\n`)
  // The assets the stacks point into, and their maps: real minified bundles.
  const bundles = await makeBundles(ASSETS)
  const positionsFile = join(dataDir, 'positions.json')
  writeFileSync(positionsFile, JSON.stringify({ releases: RELEASES, positions: Object.fromEntries(bundles.map((b) => [b.asset, b.positions])) }))

  // The collector: embedded ClickHouse in a fresh directory, no rate limit, the detector quiet.
  const config = loadConfig({}, { host: '127.0.0.1', port: 0, dataDir, rateLimit: 0, projectKey: KEY, evalIntervalMs: 600_000, logger: false })
  const a = (app = await buildApp(config))
  const base = await a.listen({ host: '127.0.0.1', port: 0 })
  const ingestUrl = `${base}/v1/ingest`

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
  const child = fork(join(import.meta.dirname, 'loadgen.mjs'), [positionsFile], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] })
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
  type Format = 'native' | 'sentry' | 'otlp'
  const load = (label: string, url: string, seconds: number, format: Format = 'native') =>
    new Promise<LoadResult>((resolve, reject) => {
      pending = { resolve, reject }
      child.send({ type: 'run', label, url, key: KEY, connections: CONNECTIONS, seconds, format })
    })

  stderr(`${CONNECTIONS} connections, ${WARMUP} s warm-up + ${SECONDS} s measured per target; collector data in ${dataDir}`)

  // 1. No-op.
  if (WARMUP > 0) await load('noop-warmup', noopUrl, WARMUP)
  const noopEld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS })
  noopEld.enable()
  const noopRes = await load('noop', noopUrl, SECONDS)
  noopEld.disable()
  stderr(`no-op: ${noopRes.responses} responses in ${noopRes.duration} s`)

  /** Warm-up, then the measured run; what the warm-up stored is counted before it and subtracted. */
  const ingest = async (label: string, url = ingestUrl, format: Format = 'native'): Promise<IngestRun> => {
    if (WARMUP > 0) await load(`${label}-warmup`, url, WARMUP, format)
    await waitFor('drain after warm-up', a.vigil.stored(), DRAIN_TIMEOUT_MS)
    const rowsBefore = await countEvents(a.vigil.store, 'default')
    const insertsBefore = await insertStats(a)
    const regroupBefore = await regroupStats(a)
    const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS })
    const cpuBefore = process.cpuUsage()
    const t0 = performance.now()
    eld.enable()
    const res = await load(label, url, SECONDS, format)
    eld.disable()
    const loadWall = (performance.now() - t0) / 1000
    const cpu = process.cpuUsage(cpuBefore)
    const rowsAtLoadEnd = (await countEvents(a.vigil.store, 'default')) - rowsBefore
    const tDrain = performance.now()
    let drained = true
    await waitFor('drain after the load', a.vigil.stored(), DRAIN_TIMEOUT_MS).catch((err: Error) => {
      drained = false
      stderr(err.message)
    })
    const drainSeconds = (performance.now() - tDrain) / 1000
    const rows = (await countEvents(a.vigil.store, 'default')) - rowsBefore
    const insertsAfter = await insertStats(a)
    const regroupAfter = await regroupStats(a)
    stderr(`${label}: ${res.responses} responses in ${res.duration} s`)
    return {
      res,
      rows,
      rowsAtLoadEnd,
      drainSeconds,
      drained,
      eld,
      cpuCores: (cpu.user + cpu.system) / 1e6 / loadWall,
      loadWall,
      inserts: insertsAfter.count - insertsBefore.count,
      insertSum: insertsAfter.sum - insertsBefore.sum,
      regrouped: regroupAfter.regrouped - regroupBefore.regrouped,
      regroupSeconds: regroupAfter.seconds - regroupBefore.seconds,
    }
  }

  // 2 and 3, in rounds: ingest without maps; the maps uploaded; ingest with them (every error's
  // frames symbolicated); the maps deleted again for the next round.
  let uploadSeconds = 0
  let mapBytes = 0
  const uploadMaps = async () => {
    const t = performance.now()
    mapBytes = 0
    for (const [release] of RELEASES) {
      for (const b of bundles) {
        const r = await fetch(`${base}/v1/sourcemaps?release=${encodeURIComponent(release)}&url=/assets/${b.asset}`, { method: 'POST', body: b.map, headers: { 'content-type': 'application/json' } })
        if (r.status !== 201) throw new Error(`uploading the map of ${b.asset}: ${r.status} ${await r.text()}`)
        mapBytes += b.map.length
      }
    }
    uploadSeconds = (performance.now() - t) / 1000
    // Read and parsed before the run: it measures what every error costs, the first ones' maps
    // aside (the cold figure below is theirs).
    for (const [release] of RELEASES) for (const b of bundles) await a.vigil.sourcemaps.symbolicate('default', release, `E\n    at f (https://app.example.com/assets/${b.asset}:${b.positions[0]![0]}:${b.positions[0]![1]})`, '')
  }
  const deleteMaps = async () => {
    await runSql(a.vigil.store, 'ALTER TABLE sourcemaps DELETE WHERE 1 SETTINGS mutations_sync = 1')
    for (const [release] of RELEASES) a.vigil.sourcemaps.forget('default', release)
  }
  const plainRuns: IngestRun[] = []
  const mappedRuns: IngestRun[] = []
  // A B B A A B …: a drift of the machine over the runs weighs on both alike.
  let mapsUp = false
  for (let run = 0; run < 2 * ROUNDS; run++) {
    const withMaps = run % 4 === 1 || run % 4 === 2
    if (withMaps && !mapsUp) await uploadMaps()
    if (!withMaps && mapsUp) await deleteMaps()
    mapsUp = withMaps
    if (withMaps) mappedRuns.push(await ingest(`ingest-maps-${mappedRuns.length + 1}`))
    else plainRuns.push(await ingest(`ingest-${plainRuns.length + 1}`))
  }
  const errorsStored = await countEvents(a.vigil.store, 'default', { kind: 'error' })
  // Other clients, maps off, beside the native path's runs without maps.
  if (mapsUp) await deleteMaps()
  const sentry = await ingest('sentry', `${base}/api/1/envelope/?sentry_key=${KEY}`, 'sentry')
  const flows = { login: 'login', download: 'download', checkout: 'checkout', 'offline-playback': 'offline-playback' }
  const named = await fetch(`${base}/v1/projects/default`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ transactionFlows: flows }) })
  if (!named.ok) throw new Error(`naming the flows: ${named.status} ${await named.text()}`)
  const otlp = await ingest('otlp', `${base}/v1/traces`, 'otlp')
  await uploadMaps()

  // 4. One frame, cold (the map read from ClickHouse, parsed and decoded) and warm.
  const frame = (b: (typeof bundles)[number], i: number) => {
    const [line, col] = b.positions[i % b.positions.length]!
    return `TypeError: x\n    at f (https://app.example.com/assets/${b.asset}:${line}:${col})`
  }
  const cold: number[] = []
  for (const [release] of RELEASES.slice(0, 2)) {
    for (const b of bundles) {
      a.vigil.sourcemaps.forget('default', release)
      const t = performance.now()
      const s = await a.vigil.sourcemaps.symbolicate('default', release, frame(b, 0), '')
      cold.push(performance.now() - t)
      if (!s[0]?.mapped) throw new Error(`${b.asset} of ${release} did not map`)
    }
  }
  const WARM = 20_000
  const tWarm = performance.now()
  for (let i = 0; i < WARM; i++) await a.vigil.sourcemaps.symbolicate('default', RELEASES[i % RELEASES.length]![0], frame(bundles[i % bundles.length]!, i), '')
  const warmUs = ((performance.now() - tWarm) * 1000) / WARM
  cold.sort((x, y) => x - y)
  peakRss = Math.max(peakRss, process.memoryUsage.rss())
  const maxRss = process.resourceUsage().maxRSS * 1024

  // Report. Stored, not accepted: the rows in ClickHouse over the time it took to have them there
  // (the load and then the drain of whatever backlog the spool held when the load ended).
  const eps = (r: IngestRun) => r.rows / (r.res.duration + r.drainSeconds)
  const mean = (runs: IngestRun[], f: (r: IngestRun) => number) => runs.reduce((t, r) => t + f(r), 0) / runs.length
  // The table: each run's figures, averaged over the rounds (percentiles too: a mean of each run's).
  const plain = plainRuns.at(-1)!
  const mapped = mappedRuns.at(-1)!
  const rps = (r: LoadResult) => r.responses / r.duration
  const noopRps = rps(noopRes)
  const ms = (ns: number) => Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS).toFixed(1)
  const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`
  const n = (x: number) => Math.round(x).toLocaleString('en-US')
  const mark = (ok: boolean) => (ok ? 'PASS' : 'FAIL')
  const line = (l: string, ...cols: string[]) => `  ${l.padEnd(34)}${cols.slice(0, 3).map((c) => ` ${c}`.padStart(18)).join('')}  ${cols[3] ?? ''}`
  const row = (label: string, f: (r: IngestRun) => string, noopValue = '', goal = '') => line(label, f(plain), f(mapped), noopValue, goal)
  const avg = (label: string, f: (r: IngestRun) => number, fmt: (x: number) => string, noopValue = '', goal?: (plain: number, mapped: number) => string) =>
    line(label, fmt(mean(plainRuns, f)), fmt(mean(mappedRuns, f)), noopValue, goal?.(mean(plainRuns, f), mean(mappedRuns, f)) ?? '')
  const epsPlain = mean(plainRuns, eps)
  const epsMapped = mean(mappedRuns, eps)
  const costPct = (1 - epsMapped / epsPlain) * 100
  const regroupShare = mean(mappedRuns, (r) => r.regroupSeconds / (r.loadWall + r.drainSeconds)) * 100
  const out = [
    '',
    `Vigil ingest benchmark — ${CONNECTIONS} connections, ${SECONDS} s measured (after ${WARMUP} s warm-up), ${EVENTS_PER_BATCH} events/batch, ${plain.res.bodyBytes} B/batch`,
    '',
    line('', 'ingest', 'ingest + maps', 'no-op', 'goal'),
    avg('events/s stored (ClickHouse count)', eps, n, '', (p, m) => `≥ ${n(GOALS.eventsPerSecond)}  ${mark(p >= GOALS.eventsPerSecond)} / ${mark(m >= GOALS.eventsPerSecond)}`),
    line('  each round', plainRuns.map((r) => n(eps(r))).join(' '), mappedRuns.map((r) => n(eps(r))).join(' ')),
    avg('events/s accepted (202, on disk)', (r) => r.res.said.accepted / r.res.duration, n),
    avg('requests/s', (r) => rps(r.res), n, n(noopRps)),
    avg('latency p50 (ms)', (r) => r.res.latency.p50, (x) => x.toFixed(0), String(noopRes.latency.p50)),
    avg('latency p99 (ms)', (r) => r.res.latency.p99, (x) => x.toFixed(0), String(noopRes.latency.p99), (p, m) => `< ${GOALS.p99Ms}  ${mark(p < GOALS.p99Ms)} / ${mark(m < GOALS.p99Ms)}`),
    avg('latency max (ms)', (r) => r.res.latency.max, (x) => x.toFixed(0), String(noopRes.latency.max)),
    avg('ratio ingest req/s ÷ no-op req/s', (r) => rps(r.res) / noopRps, (x) => x.toFixed(2), '', (p, m) => `≥ ${GOALS.ratio}  ${mark(p >= GOALS.ratio)} / ${mark(m >= GOALS.ratio)}`),
    line('(last round below)', '', ''),
    row('responses 202 / non-2xx', (r) => `${r.res.codes['202'] ?? 0} / ${r.res.non2xx}`, `${noopRes.codes['202'] ?? 0} / ${noopRes.non2xx}`),
    row('socket errors / timeouts', (r) => `${r.res.errors} / ${r.res.timeouts}`, `${noopRes.errors} / ${noopRes.timeouts}`),
    row('event-loop delay p50 / p99 / max', (r) => `${ms(r.eld.percentile(50))} / ${ms(r.eld.percentile(99))} / ${ms(r.eld.max)}`, `${ms(noopEld.percentile(50))} / ${ms(noopEld.percentile(99))} / ${ms(noopEld.max)}`, '(ms, server process)'),
    row('server CPU during load (cores)', (r) => r.cpuCores.toFixed(2), '', '(whole process: JS + chDB threads)'),
    row('load generator CPU (cores)', (r) => r.res.loadgenCpu.toFixed(2), noopRes.loadgenCpu.toFixed(2)),
    line('peak RSS, server process', `${mb(peakRss)} sampled`, `${mb(maxRss)} max`),
    '',
    `  source maps: events/s stored with every error symbolicated ${n(epsMapped)} against ${n(epsPlain)} without (means of ${ROUNDS} runs each, in the order without, with, with, without):` +
      ` ${costPct >= 0 ? `${costPct.toFixed(1)}% less` : `${(-costPct).toFixed(1)}% more`} (goal: at most 10% less  ${mark(costPct <= 10)}).`,
    `    regrouping kept the event loop ${regroupShare.toFixed(1)}% of the runs with maps' time (vigil_regroup_seconds);` +
      ` ${n(mean(mappedRuns, (r) => r.regrouped))} errors regrouped per run (${n(errorsStored)} errors stored in all);` +
      ` ${RELEASES.length * bundles.length} maps uploaded (${mb(mapBytes)} in all) in ${uploadSeconds.toFixed(1)} s.`,
    `    one frame: cold (read from ClickHouse, parsed, decoded; ~${Math.round(bundles[0]!.map.length / 1024)} KB maps) median ${cold[cold.length >> 1]!.toFixed(1)} ms, max ${cold[cold.length - 1]!.toFixed(1)} ms over ${cold.length} maps;` +
      ` warm ${warmUs.toFixed(1)} µs (mean of ${n(WARM)}).`,
    '',
  ]
  for (const [label, r] of [['without maps (last round)', plain], ['with maps (last round)', mapped]] as const) {
    out.push(
      `  ${label}: events/s stored = rows in ClickHouse for the measured run (count after the drain − count before it = ${n(r.rows)})`,
      `    ÷ (autocannon's measured duration ${r.res.duration} s + drain ${r.drainSeconds.toFixed(1)} s${r.drained ? '' : ', TIMED OUT'}); ${n(r.rowsAtLoadEnd)} stored when the load ended;` +
        ` over the load alone ${n(r.rows / r.res.duration)} events/s.`,
      `    accepted (sum of the 202 bodies' "accepted"): ${n(r.res.said.accepted)} events in ${n(r.res.ok2xx)} batches, rejected ${n(r.res.said.rejected)}, duplicate batches ${r.res.said.duplicate};` +
        ` ClickHouse inserts ${n(r.inserts)}, mean ${r.inserts ? ((r.insertSum / r.inserts) * 1000).toFixed(0) : '-'} ms, busy ${r.insertSum.toFixed(1)} s of ${(r.loadWall + r.drainSeconds).toFixed(1)} s.`,
    )
    const rejections = Object.entries(r.res.said.rejections)
    if (rejections.length > 0) out.push(`    rejected events by code: ${rejections.map(([c, k]) => `${c}×${k}`).join(', ')}`)
    const bad = Object.entries(r.res.codes).filter(([c]) => !c.startsWith('2'))
    if (bad.length > 0) out.push(`    non-2xx status codes: ${bad.map(([c, k]) => `${c}×${k}`).join(', ')}`)
  }
  const clients = [sentry, otlp]
  const both = (f: (r: IngestRun) => string) => clients.map(f)
  out.push(
    '',
    `  other clients (same machine, same run, no maps; ${CONNECTIONS} connections):`,
    line('', 'native /v1/ingest', 'Sentry envelope', 'OTLP /v1/traces'),
    line('bytes per request', String(plain.res.bodyBytes), ...both((r) => String(r.res.bodyBytes))),
    line('requests/s', n(mean(plainRuns, (r) => rps(r.res))), ...both((r) => n(rps(r.res)))),
    line('events/s stored (ClickHouse count)', n(epsPlain), ...both((r) => n(eps(r)))),
    line('events per request', String(EVENTS_PER_BATCH), ...both((r) => (r.rows / Math.max(1, r.res.ok2xx)).toFixed(2))),
    line('latency p50 / p99 (ms)', `${mean(plainRuns, (r) => r.res.latency.p50).toFixed(0)} / ${mean(plainRuns, (r) => r.res.latency.p99).toFixed(0)}`, ...both((r) => `${r.res.latency.p50} / ${r.res.latency.p99}`)),
    line('server CPU during load (cores)', mean(plainRuns, (r) => r.cpuCores).toFixed(2), ...both((r) => r.cpuCores.toFixed(2))),
    line('non-2xx / socket errors', `${plain.res.non2xx} / ${plain.res.errors}`, ...both((r) => `${r.res.non2xx} / ${r.res.errors}`)),
    `    Sentry: ${n(sentry.rows)} events stored of ${n(sentry.res.said.accepted)} accepted; the browser SDK sends one event per request (a session, or an error), so requests/s is its measure.`,
    `    OTLP: ${n(otlp.rows)} events stored of ${n(otlp.res.said.accepted)} taken (${n(otlp.res.ok2xx)} exports answered 200); each export's 20 root spans are flows, 4 carry an exception.`,
  )
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
