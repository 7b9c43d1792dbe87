import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { EventRow } from '../store/types.js'

/**
 * The spool's record format, in one place: a stored row as a TabSeparated line (what ClickHouse
 * reads), a record as a request's rows closed by a line with their length and checksum, how
 * whole records are read back, and the batch each record is.
 */

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' }
const SPECIAL = /[\\\t\n\r\0]/
const SPECIALS = /[\\\t\n\r\0]/g

/** A string as a TabSeparated field (ClickHouse's escapes). */
export const tsv = (s: string): string => (SPECIAL.test(s) ? s.replace(SPECIALS, (c) => ESCAPES[c]!) : s)

/**
 * One stored row as a TabSeparated line, in ROW_COLUMNS order (keep the two in step; a test
 * checks them against each other). Written out by hand: every accepted event passes here.
 */
export const rowTsv = (r: EventRow): string =>
  `${tsv(r.project)}\t${tsv(r.env)}\t${tsv(r.release)}\t${r.kind}\t${r.ts}\t${r.received}\t${tsv(r.session)}\t${tsv(r.batch)}\t${tsv(r.name)}\t${tsv(r.outcome)}\t${r.value}\t${tsv(r.reason)}\t${tsv(r.step)}\t${tsv(r.message)}\t${tsv(r.stack)}\t${r.handled}\t${r.fingerprint}\t${tsv(r.url)}\t${tsv(r.route)}\t${tsv(r.user_agent)}\t${tsv(r.browser)}\t${tsv(r.os)}\t${tsv(r.device)}\t${tsv(r.net)}`

/** Rows as TabSeparated lines, each ending in a newline: what ClickHouse reads. */
export const rowsTsv = (rows: EventRow[]): string => rows.map(rowTsv).join('\n') + '\n'

/** One spool record: the rows' lines, then the line that closes the record (spoolRecordOf). */
export const spoolRecord = (rows: EventRow[]): string => spoolRecordOf(rowsTsv(rows))

const UNESCAPES: Record<string, string> = { t: '\t', n: '\n', r: '\r', '0': '\0' }
/** A TabSeparated field back to its string. */
export const untsv = (s = '') => s.replace(/\\(.)/g, (_, c: string) => UNESCAPES[c] ?? c)

/** The project and batch id of a line written by rowTsv (columns 1 and 8), unescaped. */
export const projectAndBatch = (line: string): [string, string] => {
  const f = line.split('\t', 8)
  return [untsv(f[0]), untsv(f[7])]
}

const checksum = (data: Buffer | string) => createHash('sha256').update(data).digest('hex').slice(0, 16)

/** One spool record: rows as TabSeparated lines (each ending in a newline), then the line closing them. */
export const spoolRecordOf = (rows: string): string => `${rows}#${Buffer.byteLength(rows)} ${checksum(rows)}\n`

const HASH = 0x23
const NEWLINE = 0x0a
const END_LINE = /^#(\d{1,10}) ([0-9a-f]{16})$/

/**
 * The whole records in a segment's bytes, in order, as their rows' text; how many bytes were torn
 * (not part of a whole record); and where the last whole record ends. A closing line is believed
 * only when the bytes before it have its length and checksum, so a torn record, or rows run
 * together with it, is never taken for a whole one. (`#` alone closes a record of an earlier
 * version's spool.)
 */
export const wholeRecords = (buf: Buffer): { records: string[]; tornBytes: number; end: number } => {
  const records: string[] = []
  let torn = 0
  let from = 0
  // A closing line starts a line: at 0, or after a newline.
  const next = (after: number) => {
    const i = buf.indexOf('\n#', after)
    return i < 0 ? -1 : i + 1
  }
  for (let at = buf[0] === HASH ? 0 : next(0); at >= 0; at = next(at)) {
    const nl = buf.indexOf(NEWLINE, at)
    if (nl < 0) break
    const line = buf.toString('latin1', at, nl)
    const m = END_LINE.exec(line)
    let start = -1
    if (m) {
      const s = at - Number(m[1])
      if (s >= from && checksum(buf.subarray(s, at)) === m[2]) start = s
    } else if (line === '#' && at > from) start = from
    if (start < 0) continue
    torn += start - from
    // The version before closed records with `#` alone; its rows lack the last column (net).
    records.push(m ? buf.toString('utf8', start, at) : buf.toString('utf8', start, at).replaceAll('\n', '\t\n'))
    from = nl + 1
  }
  return { records, tornBytes: torn + buf.length - from, end: from }
}

/** A segment's whole records (up to its acknowledged length: spool.ts Segment). */
export const readRecords = async (seg: { path: string; bytes: number }): Promise<string[]> => wholeRecords((await readFile(seg.path)).subarray(0, seg.bytes)).records

/** The project and batch id of a record: a record is one batch, and its first row says both. */
export const batchOf = (record: string): [string, string] => projectAndBatch(record.slice(0, record.indexOf('\n')))
