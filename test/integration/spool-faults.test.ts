/**
 * The spool on a failing disk: a short write, ENOSPC, a failed fdatasync, a cut that fails too,
 * and torn bytes left inside a segment. Faults come from the disk itself where the machine lets
 * this test mount a small tmpfs (root), and from a file handle whose calls fail at the spool's
 * write seam otherwise; the files are real either way. What was acknowledged is read back whole
 * after a restart, exactly once; what was refused is not there.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { readRecords, spoolRecordOf, wholeRecords } from '../../collector/src/spool/record.js'
import { openSpool, type Spool } from '../../collector/src/spool/spool.js'
import { startCollector, tempDir } from '../helpers/collector.js'
import { storedEvents } from '../helpers/storeQueries.js'

const record = (n: number) => spoolRecordOf(`row ${n}\tpayload ${'x'.repeat(n % 50)}\n`)
const rowsOf = (n: number) => `row ${n}\tpayload ${'x'.repeat(n % 50)}\n`

type Faults = { shortWrite?: boolean; enospc?: boolean; datasync?: boolean; truncate?: boolean }

/** A real file handle whose next calls fail as a full or failing disk makes them fail. */
const failingFile = (faults: Faults) => async (path: string): Promise<FileHandle> => {
  const fh = await open(path, 'a')
  const fail = (code: string) => Object.assign(new Error(`${code}: injected`), { code })
  return new Proxy(fh, {
    get(target, key) {
      if (key === 'write')
        return async (buf: Buffer, offset: number, length: number) => {
          if (faults.enospc) throw fail('ENOSPC')
          if (faults.shortWrite) {
            // Half of it reaches the file, then the disk is full.
            faults.shortWrite = false
            faults.enospc = true
            return target.write(buf, offset, Math.max(1, length >> 1))
          }
          return target.write(buf, offset, length)
        }
      if (key === 'datasync' && faults.datasync) return async () => Promise.reject(fail('EIO'))
      if (key === 'truncate' && faults.truncate) return async () => Promise.reject(fail('EIO'))
      const value = Reflect.get(target, key) as unknown
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

const spoolIn = (dir: string, faults: Faults = {}) => openSpool({ dir, sealMs: 60_000, maxSegmentBytes: 1 << 20, maxBytes: 1 << 30, openFile: failingFile(faults) })

/** Every whole record a fresh start finds, in order. */
const afterRestart = async (dir: string) => {
  const spool = openSpool({ dir, sealMs: 60_000, maxSegmentBytes: 1 << 20, maxBytes: 1 << 30 })
  const records = (await Promise.all(spool.sealed().map(readRecords))).flat()
  return { records, recovered: spool.recovered }
}

/** Appends; true when acknowledged. */
const tryAppend = (spool: Spool, n: number) => spool.append(record(n)).then(() => true, () => false)

describe('spool faults', () => {
  const dirs: ReturnType<typeof tempDir>[] = []
  afterAll(() => dirs.forEach((d) => d.remove()))
  const dir = () => {
    const d = tempDir()
    dirs.push(d)
    return d.path
  }

  it('a short write then ENOSPC acknowledges nothing of it, and the next append follows the last whole record', async () => {
    const path = dir()
    const faults: Faults = {}
    const spool = spoolIn(path, faults)
    expect(await tryAppend(spool, 1)).toBe(true)
    faults.shortWrite = true
    expect(await tryAppend(spool, 2)).toBe(false)
    expect(await tryAppend(spool, 3)).toBe(false)
    faults.enospc = false
    expect(await tryAppend(spool, 4)).toBe(true)
    // No crash, no close: what a kill -9 leaves.
    const { records, recovered } = await afterRestart(path)
    expect(records).toEqual([rowsOf(1), rowsOf(4)])
    expect(recovered.tornBytes).toBe(0)
  })

  it('a failed fdatasync takes its bytes back off, so a retry of the batch is not stored twice', async () => {
    const path = dir()
    const faults: Faults = {}
    const spool = spoolIn(path, faults)
    expect(await tryAppend(spool, 1)).toBe(true)
    faults.datasync = true
    expect(await tryAppend(spool, 2)).toBe(false)
    faults.datasync = false
    // The client's retry of the batch that was refused.
    expect(await tryAppend(spool, 2)).toBe(true)
    const { records } = await afterRestart(path)
    expect(records).toEqual([rowsOf(1), rowsOf(2)])
  })

  it('when the bytes cannot be cut either, the segment closes at its last acknowledged record and appends go on in a new one', async () => {
    const path = dir()
    const faults: Faults = {}
    const spool = spoolIn(path, faults)
    expect(await tryAppend(spool, 1)).toBe(true)
    faults.shortWrite = true
    faults.truncate = true
    expect(await tryAppend(spool, 2)).toBe(false)
    faults.enospc = false
    faults.truncate = false
    expect(await tryAppend(spool, 3)).toBe(true)
    // The first segment, sealed with its torn tail still on disk, reads as its one whole record.
    expect(spool.sealed()).toHaveLength(1)
    expect(await readRecords(spool.sealed()[0]!)).toEqual([rowsOf(1)])
    const segments = readdirSync(path).filter((n) => n.endsWith('.seg'))
    expect(segments).toHaveLength(2)
    const { records, recovered } = await afterRestart(path)
    expect(records).toEqual([rowsOf(1), rowsOf(3)])
    expect(recovered.tornBytes).toBeGreaterThan(0)
  })

  it('a record whose fdatasync failed and whose bytes could not be cut off is not read back after a crash, though whole', async () => {
    const path = dir()
    const faults: Faults = {}
    const spool = spoolIn(path, faults)
    expect(await tryAppend(spool, 1)).toBe(true)
    faults.datasync = true
    faults.truncate = true
    expect(await tryAppend(spool, 2)).toBe(false)
    faults.datasync = false
    faults.truncate = false
    // The client's retry.
    expect(await tryAppend(spool, 2)).toBe(true)
    const { records } = await afterRestart(path)
    expect(records).toEqual([rowsOf(1), rowsOf(2)])
  })

  it('a segment the timer began to close is sealed when seal() returns, however slow the close', async () => {
    // Seen as a flake: the collector's stored() returned while the timer's seal was closing the
    // last segment (neither open nor sealed), and a test counted the events before they were stored.
    const slowClose = async (path: string): Promise<FileHandle> => {
      const fh = await open(path, 'a')
      return new Proxy(fh, {
        get(target, key) {
          if (key === 'close') return async () => new Promise<void>((r) => setTimeout(r, 300)).then(() => target.close())
          const value = Reflect.get(target, key) as unknown
          return typeof value === 'function' ? value.bind(target) : value
        },
      })
    }
    const spool = openSpool({ dir: dir(), sealMs: 20, maxSegmentBytes: 1 << 20, maxBytes: 1 << 30, openFile: slowClose })
    for (const [a, b] of [[1, 2], [3, 4]] as const) {
      expect(await tryAppend(spool, a)).toBe(true)
      expect(await tryAppend(spool, b)).toBe(true)
      // The timer fires and begins to close the segment.
      await new Promise((r) => setTimeout(r, 100))
      await spool.seal()
      expect(spool.sealed()).toHaveLength(1)
      expect(await readRecords(spool.sealed()[0]!)).toEqual([rowsOf(a), rowsOf(b)])
      spool.remove(spool.sealed()[0]!)
    }
  })

  it('a start keeps every whole record around torn bytes, in every segment, and never takes rows run together for a record', () => {
    const path = dir()
    mkdirSync(path, { recursive: true })
    const torn = record(2).slice(0, 17)
    // What an older version could leave: torn bytes, then records appended after them.
    writeFileSync(join(path, '000000000000001-aaaaaaaa-00000000.seg'), record(1) + torn + record(3) + record(4) + torn)
    writeFileSync(join(path, '000000000000002-aaaaaaaa-00000000.seg'), torn + record(5))
    // A record whose rows were altered on disk fails its checksum.
    writeFileSync(join(path, '000000000000003-aaaaaaaa-00000000.seg'), record(6).replace('row', 'rOw') + record(7))
    const buf = Buffer.from(record(1) + torn + record(3))
    expect(wholeRecords(buf)).toEqual({ records: [rowsOf(1), rowsOf(3)], tornBytes: torn.length, end: buf.length })
    // A record of the version before: closed by `#` alone, its rows one column short (net, added empty).
    expect(wholeRecords(Buffer.from('a\tb\nc\td\n#\n')).records).toEqual(['a\tb\t\nc\td\t\n'])
    return afterRestart(path).then(({ records, recovered }) => {
      expect(records).toEqual([rowsOf(1), rowsOf(3), rowsOf(4), rowsOf(5), rowsOf(7)])
      expect(recovered).toEqual({ records: 5, tornBytes: 3 * torn.length + record(6).length })
      // The torn tail was cut off; the torn bytes inside stay, skipped by every reader.
      expect(statSync(join(path, '000000000000001-aaaaaaaa-00000000.seg')).size).toBe(record(1).length + torn.length + record(3).length + record(4).length)
    })
  })
})

/** Mounts a tmpfs of `bytes` at `path`; false where this machine does not allow it. */
const mountTmpfs = (path: string, bytes: number) => {
  try {
    mkdirSync(path, { recursive: true })
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', path], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
const CAN_MOUNT = (() => {
  if (process.getuid?.() !== 0) return false
  const probe = tempDir('vigil-mount-probe-')
  const ok = mountTmpfs(probe.path, 65536)
  if (ok) execFileSync('umount', [probe.path])
  probe.remove()
  return ok
})()

describe.skipIf(!CAN_MOUNT)('a full disk under a running collector (tmpfs)', () => {
  it('answers 503 while the disk is full, stores every 202 exactly once, and stores none of what it refused', async () => {
    const dir = tempDir()
    const spool = join(dir.path, 'spool')
    expect(mountTmpfs(spool, 512 * 1024)).toBe(true)
    const KEY = 'vgl_full_disk_key'
    const c = await startCollector({ dataDir: dir.path, projectKey: KEY, rateLimit: 0 })
    try {
      // Everything but ~40 KB taken by another file on the same disk.
      const filler = join(spool, 'filler')
      const free = () => Number(execFileSync('df', ['--output=avail', '-B1', spool]).toString().split('\n')[1])
      writeFileSync(filler, Buffer.alloc(Math.max(0, free() - 40 * 1024)))
      const post = (id: string) =>
        fetch(`${c.url}/v1/ingest`, {
          method: 'POST',
          body: JSON.stringify({ k: KEY, id, r: 'full-disk', s: `s-${id}`, ev: Array.from({ length: 10 }, (_, i) => ({ t: 'error', ts: Date.now(), ty: 'Error', m: `boom ${i} ${'y'.repeat(400)}` })) }),
        }).then((r) => r.status)

      const acked = new Set<string>()
      const refused: string[] = []
      for (let i = 0; i < 60; i++) {
        const status = await post(`b${i}`)
        if (status === 202) acked.add(`b${i}`)
        else {
          expect(status).toBe(503)
          refused.push(`b${i}`)
        }
      }
      expect(refused.length).toBeGreaterThan(0)
      expect((await (await fetch(`${c.url}/metrics`)).text())).toMatch(/vigil_events_refused_total\{reason="spool_write_failed"\} [1-9]/)

      // Space again: the clients' retries of what was refused are accepted, once.
      rmSync(filler)
      for (const id of refused.slice(0, 5)) {
        expect(await post(id)).toBe(202)
        acked.add(id)
      }
      await c.app.vigil.stored()
      const rows = await storedEvents(c.app.vigil.store, 'default', { release: 'full-disk', limit: 100_000 })
      const per = new Map<string, number>()
      for (const r of rows) per.set(r.batch, (per.get(r.batch) ?? 0) + 1)
      expect([...per.keys()].sort()).toEqual([...acked].sort())
      expect([...per.values()].every((n) => n === 10)).toBe(true)
    } finally {
      await c.close()
      execFileSync('umount', [spool])
      dir.remove()
    }
  })
})
