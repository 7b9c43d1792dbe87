import { describe, expect, it } from 'vitest'
import { projectAndBatch, rowTsv } from '../../collector/src/spool/record.js'
import { ROW_COLUMNS, type EventRow } from '../../collector/src/store/index.js'

const row: EventRow = {
  project: 'p\t1', env: 'production', release: '1.0.0', kind: 'error', ts: 1795290000123, received: 1795290000200, session: 's',
  batch: 'b\\1\n', name: 'TypeError', outcome: '', value: 1.5, reason: '', step: '', message: 'a\tb\nc\\d\re\0f', stack: 'line1\nline2',
  handled: 1, fingerprint: '0123456789abcdef', url: 'https://x/p', route: '/p', user_agent: 'ua', browser: 'Chrome 156', os: 'Linux', device: 'desktop',
  net: '0123456789abcdef',
}

describe('spool rows (TabSeparated)', () => {
  it('writes every column, in ROW_COLUMNS order, on one line', () => {
    // Each field tagged with its column name: the line must list them in ROW_COLUMNS order.
    const tagged = Object.fromEntries(ROW_COLUMNS.map((c) => [c, typeof row[c] === 'number' ? row[c] : `<${c}>`])) as unknown as EventRow
    const fields = rowTsv(tagged).split('\t')
    expect(fields).toHaveLength(ROW_COLUMNS.length)
    ROW_COLUMNS.forEach((c, i) => expect(fields[i]).toBe(typeof row[c] === 'number' ? String(row[c]) : `<${c}>`))
  })

  it('escapes what would break a line or a field, as ClickHouse reads it back', () => {
    const line = rowTsv(row)
    expect(line).not.toMatch(/\n|\r|\0/)
    expect(line.split('\t')).toHaveLength(ROW_COLUMNS.length)
    expect(line).toContain('a\\tb\\nc\\\\d\\re\\0f')
    expect(projectAndBatch(line)).toEqual(['p\t1', 'b\\1\n'])
  })
})
