import { randomBytes } from 'node:crypto'
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, truncateSync, unlinkSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * The on-disk spool between intake and ClickHouse. A request's rows are appended as one record —
 * one line per row (the TabSeparated text ClickHouse reads), then a `#` line that closes the
 * record — and the request is answered only once its record is on disk: appends that arrive
 * together share one write and one fsync (group commit).
 *
 * The open segment is sealed after `sealMs` or `maxSegmentBytes`; sealed segments never change
 * and are drained into ClickHouse, then deleted. After a crash, every segment found is sealed
 * and cut back to its last complete record: what was cut had not been fsynced, so it was never
 * acknowledged.
 */

export const RECORD_END = '#\n'
const SUFFIX = '.seg'

export type SpoolOptions = {
  dir: string
  /** Seal the open segment this long after its first record. */
  sealMs: number
  maxSegmentBytes: number
  /** Past this many bytes on disk, appends are refused (`full()`). */
  maxBytes: number
}

export type Segment = { name: string; path: string; bytes: number }

export type Spool = {
  /** Appends one record; resolves once it is fsynced. */
  append: (record: string) => Promise<void>
  /** Sealed segments waiting to be drained, oldest first. */
  sealed: () => Segment[]
  /** Seals the open segment now (when it holds anything). */
  seal: () => Promise<void>
  remove: (seg: Segment) => void
  bytes: () => number
  full: () => boolean
  /** Called whenever a segment is sealed. */
  onSealed: (cb: () => void) => void
  close: () => Promise<void>
}

/** Cuts a segment back to its last complete record; returns its new size (0: removed). */
const recover = (path: string): number => {
  const buf = readFileSync(path)
  // Every record ends with a row line's newline and then the `#` line.
  const at = buf.lastIndexOf('\n' + RECORD_END)
  const keep = at < 0 ? 0 : at + 1 + RECORD_END.length
  if (keep === 0) {
    unlinkSync(path)
    return 0
  }
  if (keep < buf.length) truncateSync(path, keep)
  return keep
}

/** Flushes a file or a directory (its entries: files created, renamed, removed) to disk. */
export const fsyncPath = (path: string) => {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

export const openSpool = (opts: SpoolOptions): Spool => {
  mkdirSync(opts.dir, { recursive: true })
  // Segment names sort by creation: time, then this process's random boot id, then a counter.
  // The boot id keeps names (and so ClickHouse dedup tokens) unique across restarts.
  const boot = randomBytes(4).toString('hex')
  let counter = 0
  const sealedList: Segment[] = []
  let total = 0

  for (const name of readdirSync(opts.dir).filter((n) => n.endsWith(SUFFIX)).sort()) {
    const path = join(opts.dir, name)
    const bytes = recover(path)
    if (bytes > 0) {
      sealedList.push({ name, path, bytes })
      total += bytes
    }
  }
  // Stale temporary files of an earlier run are not records.
  for (const name of readdirSync(opts.dir).filter((n) => n.endsWith('.tmp'))) unlinkSync(join(opts.dir, name))

  let active: { seg: Segment; fh: FileHandle } | undefined
  let queue: { data: string; done: (err?: unknown) => void }[] = []
  let writing: Promise<void> | undefined
  let sealTimer: NodeJS.Timeout | undefined
  const listeners: (() => void)[] = []

  const openActive = async () => {
    const name = `${String(Date.now()).padStart(15, '0')}-${boot}-${String(counter++).padStart(8, '0')}${SUFFIX}`
    const path = join(opts.dir, name)
    const fh = await open(path, 'a')
    fsyncPath(opts.dir)
    active = { seg: { name, path, bytes: 0 }, fh }
    sealTimer = setTimeout(() => void seal(), opts.sealMs)
    return active
  }

  const sealNow = async () => {
    const a = active
    if (!a) return
    active = undefined
    clearTimeout(sealTimer)
    await a.fh.close()
    if (a.seg.bytes === 0) {
      unlinkSync(a.seg.path)
      return
    }
    sealedList.push(a.seg)
    for (const l of listeners) l()
  }

  // Writes and seals take turns: one chain, so a seal never cuts a write in half.
  const run = async () => {
    while (queue.length > 0) {
      const group = queue
      queue = []
      try {
        const a = active ?? (await openActive())
        const buf = Buffer.from(group.map((g) => g.data).join(''))
        await a.fh.write(buf)
        await a.fh.datasync()
        a.seg.bytes += buf.length
        total += buf.length
        for (const g of group) g.done()
        if (a.seg.bytes >= opts.maxSegmentBytes) await sealNow()
      } catch (err) {
        for (const g of group) g.done(err)
      }
    }
    writing = undefined
  }

  const append = (record: string) =>
    new Promise<void>((resolve, reject) => {
      queue.push({ data: record, done: (err) => (err === undefined ? resolve() : reject(err)) })
      writing ??= run()
    })

  const seal = async () => {
    while (writing) await writing
    await sealNow()
  }

  return {
    append,
    sealed: () => [...sealedList],
    seal,
    remove: (seg) => {
      try {
        unlinkSync(seg.path)
      } catch {
        // Already gone.
      }
      const i = sealedList.indexOf(seg)
      if (i >= 0) sealedList.splice(i, 1)
      total -= seg.bytes
    },
    bytes: () => total,
    full: () => total >= opts.maxBytes,
    onSealed: (cb) => void listeners.push(cb),
    close: seal,
  }
}
