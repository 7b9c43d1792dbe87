// `npm run bench:scale`: the collector at scale, two cases (BENCH_CASE=projects|mixed|all, default all).
//
// projects (scaleProjects.ts): one detector look at 100 projects × 2 environments × 3 live
//   releases, a few hours of modest traffic each, seeded into embedded ClickHouse. Goal: one
//   look ≤ 1 s. BENCH_PROJECTS (100), BENCH_SESSIONS (sessions per project, 2,000), BENCH_LOOKS
//   (5), BENCH_LOOK_BUDGET_SECONDS (150), BENCH_SEED.
// mixed (scaleMixed.ts): intake at 20,000 events/s over HTTP from another process, the detector
//   every 5 s, 10 tabs reading after each look, and a canary release whose login fails in 25% of
//   sessions: how long until its alert reaches a webhook receiver (goal ≤ 60 s), what the reads
//   and the looks take meanwhile, the drain lag and the collector's event-loop delay.
//   BENCH_MIXED_SECONDS (120), BENCH_RATE (events/s, 20,000), BENCH_TABS (10).
//
// Each case runs in a process of its own (chDB takes one data directory per process): with
// BENCH_CASE=all this process runs them one after the other as children. Everything is on
// 127.0.0.1; temporary directories are removed. It measures, it does not assert: it exits 0
// after printing, whatever the figures (1 when a case fails or runs past its deadline).
import { spawn } from 'node:child_process'
import { tempDir } from '../helpers/collector.js'
import type { CaseContext } from './scaleCommon.js'
import { runMixed } from './scaleMixed.js'
import { runProjects } from './scaleProjects.js'
import { runToEnd, watchdog } from './watchdog.js'

const CASES = { projects: runProjects, mixed: runMixed }
type Case = keyof typeof CASES
/** A case, hung or not, past this; the whole run past their sum. */
const DEADLINE_MS = 10 * 60_000

const chosen = process.env.BENCH_CASE || 'all'
if (chosen !== 'all' && !(chosen in CASES)) throw new Error(`BENCH_CASE must be projects, mixed or all, got ${JSON.stringify(chosen)}`)

/** Each case in a child process of its own, one after the other; its output is passed through. */
const runAll = async () => {
  let failed = false
  for (const name of Object.keys(CASES)) {
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { env: { ...process.env, BENCH_CASE: name }, stdio: 'inherit' })
    const stop = setTimeout(() => child.kill('SIGKILL'), DEADLINE_MS + 30_000)
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    clearTimeout(stop)
    if (code !== 0) failed = true
  }
  process.exit(failed ? 1 : 0)
}

/** One case, in this process. */
const runOne = async (name: Case) => {
  const started = Date.now()
  const dir = tempDir(`vigil-bench-scale-${name}-`)
  const closers: (() => Promise<unknown> | void)[] = []
  const cleanup = async () => {
    for (const close of closers.reverse()) await Promise.resolve(close()).catch(() => undefined)
    closers.length = 0
    dir.remove()
  }
  const deadline = watchdog(`bench:scale ${name}`, DEADLINE_MS, cleanup, dir.path)
  const ctx: CaseContext = {
    dataDir: dir.path,
    defer: (close) => void closers.push(close),
    progress: (s) => process.stderr.write(`bench:scale ${name}: [${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${s}\n`),
  }
  const body = async () => {
    const lines = await CASES[name](ctx)
    console.log([...lines, `  total time ${((Date.now() - started) / 1000).toFixed(0)} s`, ''].join('\n'))
  }
  await runToEnd(`bench:scale ${name}`, body, { cleanup, dir, deadline })
}

if (chosen === 'all') await runAll()
else await runOne(chosen as Case)
