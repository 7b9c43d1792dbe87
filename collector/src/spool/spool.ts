import { randomBytes } from 'node:crypto'
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, truncateSync, unlinkSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { wholeRecords } from './record.js'

/**
 * The on-disk spool between intake and ClickHouse. A request's rows are appended as one record —
 * one line per row (the TabSeparated text ClickHouse reads), then a `#` line that closes the
 * record with the rows' length in bytes and a checksum of them — and the request is answered
 * only once its record is on disk: appends that arrive together share one write and one fsync
 * (group commit).
 *
 * A write or fsync that fails (a full disk, a short write, an I/O error) acknowledges nothing of
 * its group: the group's bytes are cut off again before the next append, so nothing is ever
 * appended after torn bytes; when even the cut fails, the segment is closed at its last
 * acknowledged byte (which its name then says, for a start after a crash) and never written
 * again. Readers (the drainer, the batch ids at start) take whole records only — a record whose
 * length and checksum match — so torn bytes anywhere in a segment, left by a crash or an I/O
 * error, are skipped and every whole record around them kept.
 *
 * The open segment is sealed after `sealMs` or `maxSegmentBytes`; sealed segments never change
 * and are drained into ClickHouse, then deleted. After a crash, every segment found is sealed.
 */

const SUFFIX = '.seg'

export type SpoolOptions = {
  dir: string
  /** Told of each whole record found at start (what was accepted and is not stored yet), read once. */
  onRecovered?: (record: string) => void
  /** Opens a segment for appending (the seam tests use to make writes fail). */
  openFile?: (path: string) => Promise<FileHandle>
  /** Seal the open segment this long after its first record. */
  sealMs: number
  maxSegmentBytes: number
  /** Past this many bytes on disk, appends are refused (`full()`). */
  maxBytes: number
}

/** A segment file; `bytes`: its length that is acknowledged (readers read no further). */
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
  /** When the oldest record not yet drained was written (epoch ms; 0: none waits). */
  oldest: () => number
  /** Called whenever a segment is sealed. */
  onSealed: (cb: () => void) => void
  close: () => Promise<void>
  /** What the start found: whole records kept and torn bytes skipped. */
  recovered: { records: number; tornBytes: number }
}

/**
 * A segment found at start: cut back to the end of its last whole record (what follows was never
 * acknowledged), removed when it has none.
 */
const recover = (path: string, onRecord: (record: string) => void): { bytes: number; records: number; tornBytes: number } => {
  const file = readFileSync(path)
  // A segment closed after a failed write whose bytes could not be cut off says in its name how
  // far it is acknowledged (ACKED): what follows may be whole, but it was refused.
  const acked = ACKED.exec(path)
  const buf = acked ? file.subarray(0, Number(acked[1])) : file
  const { records, tornBytes, end } = wholeRecords(buf)
  for (const r of records) onRecord(r)
  try {
    if (end === 0) unlinkSync(path)
    else if (end < file.length) truncateSync(path, end)
  } catch {
    // Readers stop at `bytes` all the same; the next start tries again.
  }
  return { bytes: end, records: records.length, tornBytes: tornBytes + file.length - buf.length }
}
/** `….L<bytes>.seg`: a segment acknowledged up to <bytes> only. */
const ACKED = /\.L(\d+)\.seg$/

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
  const recovered = { records: 0, tornBytes: 0 }

  for (const name of readdirSync(opts.dir).filter((n) => n.endsWith(SUFFIX)).sort()) {
    const path = join(opts.dir, name)
    const found = recover(path, opts.onRecovered ?? (() => undefined))
    recovered.records += found.records
    recovered.tornBytes += found.tornBytes
    if (found.bytes > 0) {
      sealedList.push({ name, path, bytes: found.bytes })
      total += found.bytes
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
    const fh = await (opts.openFile ?? ((p) => open(p, 'a')))(path)
    fsyncPath(opts.dir)
    active = { seg: { name, path, bytes: 0 }, fh }
    sealTimer = setTimeout(() => void seal(), opts.sealMs)
    return active
  }

  // Segments being closed: no longer active, not sealed yet. Sealing waits for them too, so a
  // segment the timer began to close is sealed when seal() returns (the drainer's `drained`).
  let closing: Promise<void> = Promise.resolve()
  const close = async (a: { seg: Segment; fh: FileHandle }) => {
    try {
      await a.fh.close()
    } catch {
      // Everything acknowledged was fsynced already; readers stop at its length.
    }
    if (a.seg.bytes === 0) {
      try {
        unlinkSync(a.seg.path)
      } catch {
        // Left for the next start, which removes a segment without records.
      }
      return
    }
    // In the order they were made, whichever closed first.
    sealedList.push(a.seg)
    sealedList.sort((x, y) => (x.name < y.name ? -1 : 1))
    for (const l of listeners) l()
  }
  const sealNow = async () => {
    const a = active
    if (a) {
      active = undefined
      clearTimeout(sealTimer)
      closing = Promise.all([closing, close(a)]).then(() => undefined)
    }
    await closing
  }

  /** Writes all of `buf` (a write may take only part of it), then makes it durable. */
  const writeDurably = async (fh: FileHandle, buf: Buffer) => {
    for (let at = 0; at < buf.length; ) {
      const { bytesWritten } = await fh.write(buf, at, buf.length - at)
      if (bytesWritten <= 0) throw Object.assign(new Error('the spool write made no progress'), { code: 'EIO' })
      at += bytesWritten
    }
    await fh.datasync()
  }

  // Writes and seals take turns: one chain, so a seal never cuts a write in half.
  const run = async () => {
    while (queue.length > 0) {
      const group = queue
      queue = []
      try {
        const a = active ?? (await openActive())
        const buf = Buffer.from(group.map((g) => g.data).join(''))
        try {
          await writeDurably(a.fh, buf)
        } catch (err) {
          // Nothing of the group is acknowledged: its bytes come off again, whole or torn, so
          // the next append follows the last acknowledged record. When they cannot, the segment
          // is closed at that record and the next append opens a new one.
          try {
            await a.fh.truncate(a.seg.bytes)
            await a.fh.datasync()
          } catch {
            // Its name says how far it is acknowledged, so that a start after a crash stops there too.
            try {
              const path = a.seg.path.replace(/\.seg$/, `.L${a.seg.bytes}.seg`)
              renameSync(a.seg.path, path)
              fsyncPath(opts.dir)
              Object.assign(a.seg, { path, name: basename(path) })
            } catch {
              // The disk refuses even that: this process's readers still stop at the acknowledged length.
            }
            await sealNow()
          }
          throw err
        }
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
    // A segment's name starts with the time it was made, before its first record.
    oldest: () => {
      const first = sealedList[0] ?? (active && active.seg.bytes > 0 ? active.seg : undefined)
      return first ? Number(first.name.slice(0, 15)) : 0
    },
    onSealed: (cb) => void listeners.push(cb),
    close: seal,
    recovered,
  }
}
