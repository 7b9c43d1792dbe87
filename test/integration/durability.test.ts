/**
 * Every event that got a 202 is stored exactly once, whatever happens to the collector process:
 * a real collector child process is killed with SIGKILL under load and started again on the same
 * data directory; and a crash between a ClickHouse insert and the spool's cleanup is replayed
 * without storing anything twice.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { rowsTsv, spoolRecord, spoolRecordOf } from '../../collector/src/spool/record.js'
import { startCollector, tempDir } from '../helpers/collector.js'
import { startCollectorProcess } from '../helpers/collectorProcess.js'
import { eventRow } from '../helpers/eventRow.js'
import { freePort } from '../helpers/freePort.js'
import { waitFor } from '../helpers/waitFor.js'
import { countEvents, runSql, storedEvents } from '../helpers/storeQueries.js'

const KEY = 'vgl_durability_key'
const EVENTS_PER_BATCH = 20

const startChild = (dataDir: string, port: number) =>
  startCollectorProcess(dataDir, port, { VIGIL_PROJECT_KEY: KEY, VIGIL_RATE_LIMIT: '0', VIGIL_EVAL_INTERVAL_MS: '600000' })

const batch = (id: string) =>
  JSON.stringify({
    k: KEY,
    id,
    r: 'kill-9',
    s: `s-${id}`,
    ev: Array.from({ length: EVENTS_PER_BATCH }, (_, i) => ({ t: 'flow', ts: Date.now(), n: 'login', o: i % 7 ? 'ok' : 'fail' })),
  })

/**
 * A spool segment and the intent the drainer writes before inserting it, as a process that died
 * after the insert and before the cleanup leaves them.
 */
const leaveDrain = (spool: string, name: string, text: string) => {
  mkdirSync(spool, { recursive: true })
  writeFileSync(join(spool, name), text)
  writeFileSync(join(spool, 'drain.intent'), JSON.stringify({ token: name, segments: [name] }))
}

/** Rows per batch id, read in-process from the data directory. */
const rowsPerBatch = async (dataDir: string) => {
  const c = await startCollector({ dataDir, projectKey: KEY })
  await c.app.vigil.stored()
  const rows = await storedEvents(c.app.vigil.store, 'default', { release: 'kill-9', limit: 1_000_000 })
  await c.close()
  const per = new Map<string, number>()
  for (const r of rows) per.set(r.batch, (per.get(r.batch) ?? 0) + 1)
  return per
}

describe('durability', () => {
  const dirs: ReturnType<typeof tempDir>[] = []
  afterAll(() => dirs.forEach((d) => d.remove()))

  it('after kill -9 under load and a restart, every acknowledged batch is stored exactly once', async () => {
    const dir = tempDir()
    dirs.push(dir)
    const port = await freePort()
    const url = `http://127.0.0.1:${port}/v1/ingest`
    let child = await startChild(dir.path, port)

    const acked = new Set<string>()
    const sent = new Set<string>()
    let n = 0
    let killed = false
    // Eight clients sending as fast as they can, until the process dies under them.
    const client = async () => {
      while (!killed) {
        const id = `b-${n++}`
        sent.add(id)
        try {
          const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: batch(id) })
          if (res.status === 202) acked.add(id)
        } catch {
          // The connection died with the process: not acknowledged.
        }
      }
    }
    const clients = Array.from({ length: 8 }, client)
    await waitFor('a few hundred acknowledged batches', () => acked.size >= 300, 60_000)
    const dead = new Promise((r) => child.once('exit', r))
    child.kill('SIGKILL')
    killed = true
    await Promise.all(clients)
    await dead

    // Start again on the same directory; it drains what the dead process had accepted.
    child = await startChild(dir.path, port)
    await waitFor('the spool to drain', async () => ((await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { spoolBytes: number }).spoolBytes === 0, 60_000)
    // A fatal error (V8 out of memory aborts the process) ends it, so a supervisor can restart it:
    // embedded ClickHouse's own SIGABRT handler would leave it asleep.
    const stopped = new Promise((r) => child.once('exit', (code, signal) => r(code ?? signal)))
    child.kill('SIGABRT')
    expect(await stopped).toBe(134)

    const per = await rowsPerBatch(dir.path)
    const missing = [...acked].filter((id) => per.get(id) !== EVENTS_PER_BATCH)
    expect(missing).toEqual([])
    // Nothing stored twice, nothing stored in part, nothing invented.
    for (const [id, count] of per) {
      expect(sent.has(id)).toBe(true)
      expect(count).toBe(EVENTS_PER_BATCH)
    }
  })

  it('replays a drain interrupted after the insert without storing anything twice', async () => {
    const dir = tempDir()
    dirs.push(dir)
    // A segment as the spool writes it, and the intent the drainer writes before inserting it.
    const spool = join(dir.path, 'spool')
    const name = '000001795290000000-deadbeef-00000000.seg'
    const rows = Array.from({ length: 50 }, (_, i) =>
      eventRow({ release: 'replayed', kind: 'flow', ts: Date.now(), session: `s${i % 5}`, batch: `batch-${Math.floor(i / 10)}`, name: 'download', outcome: i % 10 ? 'ok' : 'fail' }),
    )
    const text = spoolRecord(rows)
    leaveDrain(spool, name, text)

    // The process that wrote the intent got as far as the insert, then died.
    let c = await startCollector({ dataDir: dir.path, projectKey: KEY })
    await c.close()
    // (That start replayed the intent; to test the window itself, put the segment and the
    // intent back as a crash right after the insert would have left them, and start again.)
    leaveDrain(spool, name, text)
    c = await startCollector({ dataDir: dir.path, projectKey: KEY })
    await c.app.vigil.stored()
    expect(await countEvents(c.app.vigil.store, 'default', { release: 'replayed' })).toBe(50)
    // The rollup too: the materialised view's insert was deduplicated with the same token.
    const [summary] = await c.app.vigil.store.detector.releases('default')
    expect(summary).toMatchObject({ release: 'replayed', events: 50, flows: 50, flowFailures: 5 })
    // And the pages' rollups, the hourly one fed from the minute one and the daily one from that (a chain of views).
    const now = Date.now()
    const { flows } = await c.app.vigil.store.pages.flowsAndVitals('default', 'production', now - 3 * 3600_000, now)
    // Its five failures are all s0's (i % 10 = 0 falls on i % 5 = 0): one failed session.
    expect(flows).toEqual([{ release: 'replayed', kind: 'flow', flow: 'download', sessions: 5, failed: 1, attempts: 50, failures: 5 }])
    for (const table of ['release_stats_minute', 'release_stats_hour', 'release_stats_day'])
      expect(await runSql(c.app.vigil.store, `SELECT sum(events) AS events, sum(failures) AS failures FROM ${table}`), table).toEqual([{ events: 50, failures: 5 }])
    // And the detector's per-session one, though its rows say when they were stored (what a look reads anew).
    expect(await runSql(c.app.vigil.store, 'SELECT sum(attempts) AS events, sum(failures) AS failures FROM session_flows')).toEqual([{ events: 50, failures: 5 }])
    await c.close()
  })

  it('sets aside a row ClickHouse refuses, stores the rest of its chunk, and stores nothing twice on a replay', async () => {
    const dir = tempDir()
    dirs.push(dir)
    const spool = join(dir.path, 'spool')
    const name = '000001795290000001-deadbeef-00000000.seg'
    const rows = Array.from({ length: 50 }, (_, i) => eventRow({ release: 'poisoned', kind: 'flow', ts: Date.now(), session: `s${i}`, name: 'login', outcome: 'ok' }))
    // One row no column can hold (what an older version let through for 1e309), among good ones.
    const text = spoolRecordOf(rowsTsv(rows).split('\n').map((line, i) => (i === 17 ? line.replace(/^((?:[^\t]*\t){4})[^\t]*/, '$1NaN') : line)).join('\n'))
    leaveDrain(spool, name, text)
    let c = await startCollector({ dataDir: dir.path, projectKey: KEY })
    await c.app.vigil.stored()
    expect(await countEvents(c.app.vigil.store, 'default', { release: 'poisoned' })).toBe(49)
    const quarantined = () => readdirSync(join(spool, 'quarantine'))
    expect(quarantined()).toHaveLength(1)
    expect(readFileSync(join(spool, 'quarantine', quarantined()[0]!), 'utf8')).toMatch(/^# .*DateTime.*\ndefault\tproduction\tpoisoned\tflow\tNaN\t/)
    const metrics = await (await fetch(`${c.url}/metrics`)).text()
    expect(metrics).toMatch(/^vigil_rows_quarantined_total 1$/m)
    expect(await (await fetch(`${c.url}/healthz`)).json()).toMatchObject({ status: 'degraded', quarantinedRows: 1, reasons: [expect.stringContaining('ClickHouse refused rows')] })
    // Storage goes on.
    const r = await fetch(`${c.url}/v1/ingest`, { method: 'POST', body: JSON.stringify({ k: KEY, r: 'after-poison', s: 's', ev: [{ t: 'flow', ts: Date.now(), n: 'login', o: 'ok' }] }) })
    expect(r.status).toBe(202)
    await c.app.vigil.stored()
    expect(await countEvents(c.app.vigil.store, 'default', { release: 'after-poison' })).toBe(1)
    await c.close()
    // A crash after all that, before the cleanup: the same halving, the same tokens, nothing twice.
    leaveDrain(spool, name, text)
    c = await startCollector({ dataDir: dir.path, projectKey: KEY })
    await c.app.vigil.stored()
    expect(await countEvents(c.app.vigil.store, 'default', { release: 'poisoned' })).toBe(49)
    expect(quarantined()).toHaveLength(1)
    await c.close()
  })
})
