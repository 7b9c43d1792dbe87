/**
 * The drain stage that regroups errors by source maps, on the spool's own text: only rows whose
 * kind is error (an environment, a release, a type or a session may be called "error" too), fields
 * with tabs and newlines in them, each distinct error looked up once, and every other byte as it was.
 */
import { describe, expect, it } from 'vitest'
import { ROW_COLUMNS } from '../../collector/src/store/index.js'
import { rowsTsv, untsv } from '../../collector/src/spool/record.js'
import { regroupRows } from '../../collector/src/sourcemaps/regroupRows.js'
import { eventRow } from '../helpers/eventRow.js'

const rows = [
  eventRow({ release: 'r1', kind: 'flow', ts: 1, session: 's0', name: 'error', outcome: 'ok' }),
  eventRow({ env: 'error', release: 'error', kind: 'error', ts: 2, session: 's\terror\t', name: 'error', message: 'a\tb\nc\\d', stack: 'S\n  at x', url: 'https://h.example/p', fingerprint: 'F1' }),
  eventRow({ release: 'r2', kind: 'error', ts: 3, session: 's1', name: 'TypeError', message: 'm', stack: 'S2', url: 'https://h.example/p', fingerprint: 'F2' }),
  eventRow({ release: 'r2', kind: 'error', ts: 4, session: 's2', name: 'TypeError', message: 'm', stack: 'S2', url: 'https://h.example/q?x=1', fingerprint: 'F2' }),
  eventRow({ release: 'r2', kind: 'error', ts: 5, session: 's3', name: 'TypeError', message: 'm', stack: 'S2', url: 'https://other.example/', fingerprint: 'F2' }),
  eventRow({ release: 'r3', kind: 'error', ts: 6, session: 's4', name: 'Error', message: 'no map', stack: 'S3', url: 'https://h.example/', fingerprint: 'F3' }),
]
const text = rowsTsv(rows)
const fields = (t: string | string[]) => (Array.isArray(t) ? t.join('') : t).split('\n').filter(Boolean).map((l) => l.split('\t').map(untsv))

describe('regrouping rows by source maps', () => {
  it('rewrites the fingerprint of error rows with a map, keeping the stack fingerprint last, and leaves every other byte', async () => {
    const asked: unknown[] = []
    const r = await regroupRows(text, async (project, release, host, _same, read) => {
      asked.push([project, release, host, read()])
      return release === 'r3' ? undefined : `NEW-${release}`
    })
    // One look per distinct error: r2's two rows on the same host are one.
    expect(asked).toEqual([
      ['default', 'error', 'h.example', { type: 'error', message: 'a\tb\nc\\d', stack: 'S\n  at x', pageUrl: 'https://h.example/p' }],
      ['default', 'r2', 'h.example', { type: 'TypeError', message: 'm', stack: 'S2', pageUrl: 'https://h.example/p' }],
      ['default', 'r2', 'other.example', { type: 'TypeError', message: 'm', stack: 'S2', pageUrl: 'https://other.example/' }],
      ['default', 'r3', 'h.example', { type: 'Error', message: 'no map', stack: 'S3', pageUrl: 'https://h.example/' }],
    ])
    expect(r.regrouped).toBe(4)
    const out = fields(r.text)
    const before = fields(text)
    const fp = ROW_COLUMNS.indexOf('fingerprint')
    // Every row with every column: the stack fingerprint of those regrouped, else empty (its default).
    expect(out.map((f) => [f.length, f[fp], f[ROW_COLUMNS.length]])).toEqual([
      [ROW_COLUMNS.length + 1, '', ''],
      [ROW_COLUMNS.length + 1, 'NEW-error', 'F1'],
      [ROW_COLUMNS.length + 1, 'NEW-r2', 'F2'],
      [ROW_COLUMNS.length + 1, 'NEW-r2', 'F2'],
      [ROW_COLUMNS.length + 1, 'NEW-r2', 'F2'],
      [ROW_COLUMNS.length + 1, 'F3', ''],
    ])
    // Everything else as it was.
    expect(out.map((f) => f.slice(0, ROW_COLUMNS.length).filter((_, i) => i !== fp))).toEqual(before.map((f) => f.filter((_, i) => i !== fp)))
  })

  it('fails the chunk when a lookup fails (storage away), and leaves no rejection unhandled', async () => {
    let n = 0
    const failing = regroupRows(text, async () => {
      if (n++ === 2) throw new Error('ClickHouse unreachable')
      await new Promise((r) => setTimeout(r, 10))
      return 'NEW'
    })
    await expect(failing).rejects.toThrow('ClickHouse unreachable')
  })

  it('adds only the empty last column when nothing changes', async () => {
    const r = await regroupRows(text, async () => undefined)
    expect(r.regrouped).toBe(0)
    expect([r.text].flat().join('')).toBe(text.replaceAll('\n', '\t\n'))
    const flows = rowsTsv([rows[0]!])
    expect([(await regroupRows(flows, async () => 'never')).text].flat().join('')).toBe(flows.replaceAll('\n', '\t\n'))
  })
})
