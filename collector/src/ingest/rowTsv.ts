import { spoolRecordOf } from '../spool/spool.js'
import type { EventRow } from '../store/index.js'

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

/** One spool record: the rows' lines, then the line that closes the record (spool.ts). */
export const spoolRecord = (rows: EventRow[]): string => spoolRecordOf(rowsTsv(rows))

const UNESCAPES: Record<string, string> = { t: '\t', n: '\n', r: '\r', '0': '\0' }
/** A TabSeparated field back to its string. */
export const untsv = (s = '') => s.replace(/\\(.)/g, (_, c: string) => UNESCAPES[c] ?? c)

/** The project and batch id of a line written by rowTsv (columns 1 and 8), unescaped. */
export const projectAndBatch = (line: string): [string, string] => {
  const f = line.split('\t', 8)
  return [untsv(f[0]), untsv(f[7])]
}
