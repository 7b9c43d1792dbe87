import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fsyncPath } from './spool.js'

/**
 * ClickHouse error codes that say the rows themselves cannot be stored (a value it cannot read
 * into its column), not that it is away or busy: CANNOT_PARSE_TEXT, CANNOT_PARSE_QUOTED_STRING,
 * CANNOT_PARSE_INPUT_ASSERTION_FAILED, CANNOT_READ_ALL_DATA, CANNOT_PARSE_DATE,
 * CANNOT_PARSE_DATETIME, TYPE_MISMATCH, ARGUMENT_OUT_OF_BOUND, CANNOT_CONVERT_TYPE,
 * CANNOT_PARSE_NUMBER, INCORRECT_DATA, TOO_LARGE_STRING_SIZE, VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE,
 * UNKNOWN_ELEMENT_OF_ENUM.
 */
const REFUSED = new Set([6, 26, 27, 33, 38, 41, 53, 69, 70, 72, 117, 131, 321, 691])

/** Did ClickHouse refuse these rows for what they hold (so trying again cannot help)? */
export const refusesRows = (err: unknown): boolean => REFUSED.has(Number((err as { code?: unknown } | null)?.code))

/**
 * Rows ClickHouse refused, set aside on disk where an operator finds them: one file per refused
 * row, named after its insert's token (a replay after a crash writes the same file again), the
 * reason in a `#` line above the row. Acknowledged events are never dropped, and one of them
 * never holds up the rest.
 */
export const openQuarantine = (dir: string) => {
  mkdirSync(dir, { recursive: true })
  // The files held, read once: a replay rewrites a file it already has, which is not a new row.
  const names = new Set(readdirSync(dir).filter((n) => n.endsWith('.tsv')))
  let last = 0
  return {
    dir,
    put: (row: string, token: string, err: unknown) => {
      const name = `${token.replace(/[^\w.-]+/g, '_')}.tsv`
      const path = join(dir, name)
      writeFileSync(path, `# ${String((err as Error)?.message ?? err).split('\n')[0]!.slice(0, 500)}\n${row}\n`)
      fsyncPath(path)
      fsyncPath(dir)
      names.add(name)
      last = Date.now()
    },
    /** Rows held, and when one was last put here (epoch ms; 0: not since start). */
    held: () => ({ rows: names.size, last }),
  }
}
export type Quarantine = ReturnType<typeof openQuarantine>
