/**
 * bench:scale's mixed case: intake at a target rate, the detector looking every 5 s (its default),
 * tabs reading after each look, and a bad canary that must reach the webhook. This process is the
 * collector (startCollector: embedded ClickHouse, 127.0.0.1, the default project's key, no rate
 * limit: one key carries the whole load); the load, the canary and the tabs are one other process
 * (scaleClients.mjs), so that making requests does not take this event loop. Both share 2 cores
 * here, and chDB's own threads run in this process.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { FastifyInstance } from 'fastify'
import { startCollector } from '../helpers/collector.js'
import { startReceiver } from '../helpers/receiver.js'
import { envInt } from './envInt.js'
import { f0, f1, n, spread, type CaseContext } from './scaleCommon.js'

const SECONDS = envInt('BENCH_MIXED_SECONDS', 120, 10, 600)
const RATE = envInt('BENCH_RATE', 20_000, 100, 500_000)
const TABS = envInt('BENCH_TABS', 10, 0, 200)
const CANARY = { release: '2.0.0', perSecond: 4, fail: 0.25, afterS: Math.min(15, Math.floor(SECONDS / 4)) }
const SAMPLE_MS = 250
/** Node's histogram records the timer's whole interval: the resolution is subtracted (as ingest.ts does). */
const ELD_RESOLUTION_MS = 10
const ALERT_GOAL_S = 60

type Reads = { route: 'overview' | 'release'; ms: number; status: number }[]
type ClientResult = {
  sent: number
  codes: Record<string, number>
  bodyBytes: number
  behindTicks: number
  seconds: number
  latency: { p50: number; p99: number; max: number }
  canary: { sessions: number; failed: number; firstFailAt: number; codes: Record<string, number> }
  reads: Reads
  cpuCores: number
}
type FromClients = { type: 'ready' } | { type: 'result'; result: ClientResult } | { type: 'error'; message: string }

/** The clients' process, ready; `run` resolves with what it measured. */
const startClients = async (ctx: CaseContext) => {
  const child: ChildProcess = fork(join(import.meta.dirname, 'scaleClients.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] })
  ctx.defer(() => void child.kill())
  let pending: { resolve: (r: ClientResult) => void; reject: (e: Error) => void } | undefined
  await new Promise<void>((resolve, reject) => {
    child.on('message', (m: FromClients) => {
      if (m.type === 'ready') resolve()
      else if (m.type === 'result') pending?.resolve(m.result)
      else pending?.reject(new Error(`clients: ${m.message}`))
    })
    child.on('exit', (code) => {
      const err = new Error(`the clients' process exited (${code})`)
      reject(err)
      pending?.reject(err)
    })
  })
  const run = (msg: object) =>
    new Promise<ClientResult>((resolve, reject) => {
      pending = { resolve, reject }
      child.send({ type: 'run', ...msg })
    })
  return { run, stop: () => child.disconnect() }
}

type Value = { value: number; labels: Partial<Record<string, string | number>>; metricName?: string }
const valuesOf = async (m: { get: () => Promise<{ values: Value[] }> | { values: Value[] } }) => (await m.get()).values

/** Every SAMPLE_MS: drain lag, spool bytes, detector lag, and each look's duration (from the look histogram's sum and count). */
const sampler = (app: FastifyInstance) => {
  const m = app.vigil.metrics
  const out = { drainLagS: [] as number[], spoolBytes: [] as number[], lookLagS: [] as number[], looksS: [] as number[], failedLooks: 0 }
  let last = { sum: 0, count: 0 }
  const sample = async () => {
    out.drainLagS.push((await valuesOf(m.drainLag))[0]?.value ?? 0)
    out.spoolBytes.push((await valuesOf(m.spoolBytes))[0]?.value ?? 0)
    out.lookLagS.push((await valuesOf(m.lookLag))[0]?.value ?? 0)
    const looks = await valuesOf(m.lookSeconds)
    const of = (suffix: string, result: string) => looks.find((v) => v.metricName?.endsWith(suffix) && v.labels.result === result)?.value ?? 0
    const now = { sum: of('_sum', 'done'), count: of('_count', 'done') }
    // One look every 5 s, a sample every 250 ms: a new count is one look (or, rarely, an average of two).
    for (let i = last.count; i < now.count; i++) out.looksS.push((now.sum - last.sum) / (now.count - last.count))
    last = now
    out.failedLooks = of('_count', 'failed')
  }
  const timer = setInterval(() => void sample(), SAMPLE_MS)
  return {
    out,
    stop: async () => {
      clearInterval(timer)
      await sample()
      return out
    },
  }
}

const sumOf = async (m: Parameters<typeof valuesOf>[0]) => (await valuesOf(m)).reduce((t, v) => t + v.value, 0)
const byLabel = async (m: Parameters<typeof valuesOf>[0], label: string) =>
  (await valuesOf(m)).filter((v) => v.value > 0).map((v) => `${v.labels[label]}×${n(v.value)}`).join(', ') || 'none'

/** What intake said over the run, from the collector's own counters. */
const intakeCounts = async (app: FastifyInstance) => {
  const m = app.vigil.metrics
  return { accepted: await sumOf(m.eventsAccepted), refused: await byLabel(m.eventsRefused, 'reason'), batchesRefused: await byLabel(m.batchesRefused, 'code') }
}

/** The run: the collector and its receiver, the clients' process, what was sampled and counted. */
export const runMixed = async (ctx: CaseContext): Promise<string[]> => {
  const receiver = await startReceiver()
  ctx.defer(() => receiver.close())
  ctx.progress(`starting the collector in ${ctx.dataDir}`)
  const c = await startCollector({ dataDir: ctx.dataDir, webhookUrl: receiver.url, rateLimit: 0 })
  ctx.defer(() => c.close())
  const clients = await startClients(ctx)
  ctx.progress(`${n(RATE)} events/s for ${SECONDS} s, ${TABS} tabs, canary ${CANARY.release} from ${CANARY.afterS} s`)

  const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS })
  const samples = sampler(c.app)
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  eld.enable()
  const result = await clients.run({ url: c.url, key: c.app.vigil.defaultProject.ingestKey, seconds: SECONDS, rate: RATE, tabs: TABS, canary: CANARY })
  eld.disable()
  const wall = (performance.now() - t0) / 1000
  const used = process.cpuUsage(cpu)
  const sampled = await samples.stop()
  const intake = await intakeCounts(c.app)
  ctx.progress(`load done: ${n(result.sent)} batches in ${f1(result.seconds)} s; waiting for the drain`)
  const tDrain = performance.now()
  const drained = await Promise.race([c.app.vigil.stored().then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 30_000))])
  const drainS = (performance.now() - tDrain) / 1000
  clients.stop()
  const alerts = receiver.received.map((r) => ({ at: r.at, data: (r.json as { data?: Record<string, string> } | undefined)?.data ?? {} }))
  return report({
    result,
    sampled,
    intake,
    wall,
    cpuCores: (used.user + used.system) / 1e6 / wall,
    eld,
    drained: drained ? drainS : NaN,
    alerts,
    verdict: c.app.vigil.detector.verdict('default', 'production', CANARY.release)?.verdict ?? 'none',
  })
}

type Outcome = {
  result: ClientResult
  sampled: ReturnType<typeof sampler>['out']
  intake: Awaited<ReturnType<typeof intakeCounts>>
  wall: number
  cpuCores: number
  eld: ReturnType<typeof monitorEventLoopDelay>
  /** Seconds to drain after the load; NaN: not within 30 s. */
  drained: number
  alerts: { at: number; data: Record<string, string> }[]
  verdict: string
}

const codes = (cs: Record<string, number>) => Object.entries(cs).map(([k, v]) => `${k === '0' ? 'failed' : k}×${n(v)}`).join(', ')

/** One line per route the tabs read: how many, how long (the answers of 200), what else came back. */
const readLine = (reads: Reads, route: Reads[number]['route'], what: string) => {
  const rs = reads.filter((r) => r.route === route)
  const bad = rs.filter((r) => r.status !== 200)
  const others = bad.length ? `; ${bad.length} not 200 (${[...new Set(bad.map((r) => r.status))].join(', ')})` : ''
  return `    ${what.padEnd(34)}${String(rs.length).padStart(5)} reads, ms ${spread(rs.filter((r) => r.status === 200).map((r) => r.ms))}${others}`
}

const report = ({ result, sampled, intake, wall, cpuCores, eld, drained, alerts, verdict }: Outcome): string[] => {
  const canaryAlert = alerts.find((a) => a.data.release === CANARY.release && a.data.status === 'firing')
  const others = alerts.filter((a) => a.data.release !== CANARY.release && a.data.status === 'firing')
  const ms = (ns: number) => Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS)
  const alertS = canaryAlert && result.canary.firstFailAt ? (canaryAlert.at - result.canary.firstFailAt) / 1000 : NaN
  const k = result.canary
  return [
    '',
    `Mixed: intake at ${n(RATE)} events/s (target) for ${SECONDS} s, the detector every 5 s, ${TABS} tabs reading after each look, a canary — one collector on 127.0.0.1`,
    `  (this process is the collector, embedded ClickHouse included; the load, the canary and the tabs are another process, scaleClients.mjs; 2 cores for both)`,
    '',
    `  ingest: ${n(intake.accepted / wall)} events/s accepted (${n(intake.accepted)} events in ${f1(wall)} s); ${n(result.sent)} load batches of 20 events,` +
      ` ${n((result.sent * 20) / result.seconds)} events/s sent; answers ${codes(result.codes)}`,
    `          latency ms p50 ${f0(result.latency.p50)}, p99 ${f0(result.latency.p99)}, max ${f0(result.latency.max)}; ~${n(result.bodyBytes / Math.max(1, result.sent))} B a batch;` +
      ` generator held back (128 requests open) in ${n(result.behindTicks)} of its 10 ms ticks`,
    `          refused events: ${intake.refused}; refused batches: ${intake.batchesRefused}`,
    `  drain lag (vigil_drain_lag_seconds, every ${SAMPLE_MS} ms): s ${spread(sampled.drainLagS, f1)}; spool MB ${spread(sampled.spoolBytes.map((b) => b / 1024 / 1024), f1)};` +
      ` after the load ${Number.isNaN(drained) ? 'NOT drained within 30 s' : `drained in ${f1(drained)} s`}`,
    `  detector looks (vigil_detector_look_seconds): ${sampled.looksS.length} done, ${sampled.failedLooks} failed; s ${spread(sampled.looksS, (x) => x.toFixed(2))};` +
      ` detector lag max ${f1(Math.max(0, ...sampled.lookLagS))} s`,
    `  collector event-loop delay (monitorEventLoopDelay): p50 ${f1(ms(eld.percentile(50)))} ms, p99 ${f1(ms(eld.percentile(99)))} ms, max ${f1(ms(eld.max))} ms;` +
      ` CPU: collector ${cpuCores.toFixed(2)} cores (chDB's threads included), clients ${result.cpuCores.toFixed(2)} cores`,
    `  tabs' reads, right after each look (client-side):`,
    readLine(result.reads, 'overview', 'GET /v1/overview?range=1h'),
    readLine(result.reads, 'release', `GET /v1/releases/${CANARY.release}?range=1h`),
    `  canary ${CANARY.release}: ${k.sessions} sessions at ${CANARY.perSecond}/s from ${CANARY.afterS} s, login failing in ${k.failed}` +
      ` (${f1((100 * k.failed) / Math.max(1, k.sessions))}%), answers ${codes(k.codes)}; its baseline 1.9.0 is the load (login failing in ~2%)`,
    canaryAlert
      ? `  alert at the receiver ${f1(alertS)} s after the canary's first failing login (goal ≤ ${ALERT_GOAL_S} s): ${canaryAlert.data.summary}`
      : `  NO alert for ${CANARY.release} at the receiver during the run (goal ≤ ${ALERT_GOAL_S} s); its verdict: ${verdict}`,
    `  other alerts fired: ${others.length ? others.map((a) => `${a.data.release} ${a.data.rule} ${a.data.subject}`).join('; ') : 'none'}`,
  ]
}
