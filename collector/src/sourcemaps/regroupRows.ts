import { hostOf } from '../grouping/stack.js'
import { untsv } from '../spool/record.js'
import { ROW_COLUMNS } from '../store/types.js'

const at = (column: (typeof ROW_COLUMNS)[number]) => ROW_COLUMNS.indexOf(column)
const [PROJECT, RELEASE, KIND, NAME, MESSAGE, STACK, FINGERPRINT, URL] = (['project', 'release', 'kind', 'name', 'message', 'stack', 'fingerprint', 'url'] as const).map(at) as number[] as [number, number, number, number, number, number, number, number]

/** Where a row's field `column` starts in its line, from the row's fields. */
const offset = (f: string[], column: number) => {
  let n = 0
  for (let c = 0; c < column; c++) n += f[c]!.length + 1
  return n
}

/** How long the stage works before it lets the event loop take the requests waiting (an intake's 202s). */
const SLICE_MS = 5

export type Regroup = (
  project: string,
  release: string,
  host: string,
  same: string,
  read: () => { type: string; message: string; stack: string; pageUrl: string },
) => Promise<string | undefined>

/**
 * A drain stage, between the spool and ClickHouse (so never on the way to a 202): the error rows
 * of releases with source maps get the group their original source gives, and keep the one their
 * stack gave as a last column (`stack_fingerprint`); every other row goes as it is. It runs on
 * every chunk stored: rows that are not errors are copied in whole runs, and each distinct error
 * of a chunk (the same error comes many times) is looked up once. Returns the chunk with every
 * row's last column (withStackColumn), in pieces for the insert to stream (a chunk is megabytes:
 * joining it again is a copy the insert does not need), how many errors it regrouped, and the
 * seconds it kept the event loop (its waits left out).
 */
export const regroupRows = async (text: string, regroup: Regroup): Promise<{ text: string | string[]; regrouped: number; busySeconds: number }> => {
  // Per project, release and page host, then per the error's own fields.
  const distinct = new Map<string, Map<string, Promise<string | undefined>>>()
  const errors: { start: number; end: number; fp: number; f: string[]; found: Promise<string | undefined> }[] = []
  let slice = performance.now()
  let busy = 0
  const yielded = async () => {
    const now = performance.now()
    if (now - slice < SLICE_MS) return
    busy += now - slice
    await new Promise((r) => setImmediate(r))
    slice = performance.now()
  }
  for (let at = text.indexOf('\terror\t'); at >= 0; at = text.indexOf('\terror\t', at + 1)) {
    await yielded()
    // Only a row whose kind (its fourth column) is error: a type or a name may be "error" too.
    const start = text.lastIndexOf('\n', at) + 1
    let tabs = 0
    for (let c = text.indexOf('\t', start); c >= 0 && c < at; c = text.indexOf('\t', c + 1)) tabs++
    if (tabs !== KIND - 1) continue
    const nl = text.indexOf('\n', at)
    const end = nl < 0 ? text.length : nl
    const line = text.slice(start, end)
    at = end
    const f = line.split('\t')
    if (f.length !== ROW_COLUMNS.length) continue
    const host = hostOf(f[URL]!)
    const where = `${f[PROJECT]}\t${f[RELEASE]}\t${host}`
    let known = distinct.get(where)
    if (!known) distinct.set(where, (known = new Map()))
    // The error's own fields, from its type to its stack: a slice of the chunk, not a copy.
    const same = line.slice(offset(f, NAME), offset(f, STACK + 1) - 1)
    let found = known.get(same)
    if (!found) {
      // The stored fields are the error's identity; unescaped only when it is not known yet.
      found = regroup(untsv(f[PROJECT]), untsv(f[RELEASE]), host, same, () => ({ type: untsv(f[NAME]), message: untsv(f[MESSAGE]), stack: untsv(f[STACK]), pageUrl: untsv(f[URL]) }))
      // Awaited below, in order; one that fails (storage away) fails the chunk there, and the
      // others must not go unhandled meanwhile (that would end the process).
      found.catch(() => undefined)
      known.set(same, found)
    }
    errors.push({ start, end, fp: start + offset(f, FINGERPRINT), f, found })
  }
  const out: string[] = []
  let copied = 0
  let regrouped = 0
  for (const { start, end, fp, f, found } of errors) {
    await yielded()
    const fingerprint = await found
    if (!fingerprint) continue
    // The rows before it as they are; the row up to its fingerprint, the new one, the rest, and
    // the old one as the last column.
    const stackFingerprint = f[FINGERPRINT]!
    out.push(withStackColumn(text.slice(copied, start)), text.slice(start, fp), fingerprint, text.slice(fp + stackFingerprint.length, end), '\t', stackFingerprint, '\n')
    copied = end + 1
    regrouped++
  }
  out.push(withStackColumn(text.slice(copied)))
  return { text: out, regrouped, busySeconds: (busy + performance.now() - slice) / 1000 }
}

/**
 * Rows as the spool holds them, with the last column (`stack_fingerprint`) empty: ClickHouse
 * takes it as its default, the row's fingerprint. Every row of an insert has every column, so a
 * row cut short or run into the next is refused, not stored with defaults.
 */
export const withStackColumn = (rows: string): string => rows.replaceAll('\n', '\t\n')
