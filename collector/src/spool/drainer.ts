import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { refusesRows, type Quarantine } from './quarantine.js'
import { createLoop } from '../lib/loop.js'
import { readRecords } from './record.js'
import { fsyncPath, type Segment, type Spool } from './spool.js'

/** Rows per ClickHouse insert at most: thousands, not millions (chDB holds an insert in memory). */
export const MAX_ROWS_PER_INSERT = 20_000
/**
 * Sealed segments are grouped into one drain up to about this much text: enough for inserts of
 * thousands of rows, small enough that handling it never holds the event loop for long.
 */
const MAX_GROUP_BYTES = 2 * 1024 * 1024

export type DrainerDeps = {
  spool: Spool
  dir: string
  /** Inserts TabSeparated rows (a text, or its pieces in order); a repeated token is dropped by ClickHouse. */
  insert: (text: string | string[], token: string) => Promise<void>
  /**
   * A chunk's rows as the insert takes them (ROW_COLUMNS and stack_fingerprint: regroupRows); the
   * same rows, so the chunk's token is theirs.
   */
  prepare: (text: string) => Promise<string | string[]>
  /** Resolves when the store can take inserts (schema migrated); rejects while it cannot. */
  ready: () => Promise<void>
  onInsert: (rows: number, seconds: number) => void
  /** Where rows ClickHouse refuses are set aside (the rest of their chunk is stored). */
  quarantine: Quarantine
  onQuarantined?: (rows: number) => void
  log: { warn: (obj: unknown, msg: string) => void; info: (msg: string) => void }
}

type Intent = { token: string; segments: string[] }

/** Splits text into chunks of at most `max` lines, with how many lines each has. */
const chunks = function* (text: string, max: number) {
  let start = 0
  while (start < text.length) {
    let end = start
    let rows = 0
    for (; rows < max && end < text.length; rows++) {
      const nl = text.indexOf('\n', end)
      end = nl < 0 ? text.length : nl + 1
    }
    yield { text: text.slice(start, end), rows }
    start = end
  }
}

/**
 * Moves sealed segments into ClickHouse, exactly once. Before an insert, the group of segments
 * and its dedup token are written to an intent file (fsynced); after it, the segments and then
 * the intent are deleted. A crash anywhere in between leaves the intent, and the next start
 * replays exactly that group with exactly those tokens: what ClickHouse already has, it drops
 * (`insert_deduplication_token`, also for the rollup), what it lacks, it stores.
 */
export const createDrainer = (deps: DrainerDeps) => {
  const intentPath = join(deps.dir, 'drain.intent')
  let failures = 0
  let failingSince = 0
  const idle: (() => void)[] = []

  // The intent on disk, kept here too: read once (a crash may have left one), then set and
  // cleared by this drainer alone.
  let intent = ((): Intent | undefined => {
    try {
      return JSON.parse(readFileSync(intentPath, 'utf8')) as Intent
    } catch {
      return undefined
    }
  })()

  const writeIntent = (next: Intent) => {
    const tmp = `${intentPath}.tmp`
    writeFileSync(tmp, JSON.stringify(next))
    fsyncPath(tmp)
    renameSync(tmp, intentPath)
    intent = next
  }

  const insert = async (text: string | string[], token: string, rows: number) => {
    const started = process.hrtime.bigint()
    await deps.insert(text, token)
    deps.onInsert(rows, Number(process.hrtime.bigint() - started) / 1e9)
  }

  /**
   * One chunk into ClickHouse. When it refuses the rows themselves (refusesRows: a value no
   * column can hold), the chunk is halved and each half tried, down to the rows at fault, which go
   * to the quarantine; everything else is stored. Each part has a token of its own, derived from
   * its chunk's, so a replay after a crash halves the same way and stores nothing twice. When
   * ClickHouse is away or busy, the error goes up and the drain is tried again later.
   */
  const store = async (text: string | string[], token: string, rows: number): Promise<void> => {
    try {
      await insert(text, token, rows)
    } catch (err) {
      if (!refusesRows(err)) throw err
      const lines = [text].flat().join('').split('\n')
      if (lines.at(-1) === '') lines.pop()
      if (lines.length === 1) {
        deps.quarantine.put(lines[0]!, token, err)
        deps.onQuarantined?.(1)
        deps.log.warn({ err }, `spool: ClickHouse refused a row; kept in ${deps.quarantine.dir}`)
        return
      }
      const half = lines.length >> 1
      await store(lines.slice(0, half).join('\n') + '\n', `${token}/a`, half)
      await store(lines.slice(half).join('\n') + '\n', `${token}/b`, lines.length - half)
    }
  }

  /** One group; false when there was nothing to drain. */
  const drainOnce = async (): Promise<boolean> => {
    let current = intent
    const sealed = deps.spool.sealed()
    let group: Segment[]
    if (current) {
      const names = new Set(current.segments)
      group = sealed.filter((s) => names.has(s.name))
    } else {
      group = []
      let bytes = 0
      for (const s of sealed) {
        if (group.length > 0 && bytes + s.bytes > MAX_GROUP_BYTES) break
        group.push(s)
        bytes += s.bytes
      }
      if (group.length === 0) return false
      current = { token: group[0]!.name, segments: group.map((s) => s.name) }
      writeIntent(current)
    }
    if (group.length > 0) {
      await deps.ready()
      // ClickHouse gets the rows of whole records only.
      const text = (await Promise.all(group.map(readRecords))).flat().join('')
      let i = 0
      for (const chunk of chunks(text, MAX_ROWS_PER_INSERT)) await store(await deps.prepare(chunk.text), `${current.token}:${i++}`, chunk.rows)
      for (const s of group) deps.spool.remove(s)
    }
    unlinkSync(intentPath)
    intent = undefined
    return true
  }

  const loop = createLoop({
    everyMs: Infinity,
    run: async () => {
      const drained = await drainOnce()
      if (failures > 0) deps.log.info(`spool: storing again after ${failures} failed attempt(s)`)
      failures = 0
      failingSince = 0
      if (drained) return 0
      for (const cb of idle.splice(0)) cb()
      return Infinity
    },
    onError: (err, n) => {
      failures = n
      failingSince ||= Date.now()
      if (failures === 1 || failures % 20 === 0) deps.log.warn({ err }, `spool: storing in ClickHouse failed (attempt ${failures}); events stay in the spool`)
      return Math.min(30_000, 250 * 2 ** Math.min(failures, 7))
    },
  })

  deps.spool.onSealed(() => loop.wake())

  return {
    start: loop.start,
    /** Seals the open segment and waits until everything in the spool is stored. */
    drained: async () => {
      await deps.spool.seal()
      while (deps.spool.sealed().length > 0 || intent) {
        await new Promise<void>((r) => {
          idle.push(r)
          loop.wake()
        })
      }
    },
    failing: () => failures > 0,
    /** How long storing has been failing (ms; 0: it is not). */
    failingFor: () => (failingSince ? Date.now() - failingSince : 0),
    stop: loop.stop,
  }
}
export type Drainer = ReturnType<typeof createDrainer>
