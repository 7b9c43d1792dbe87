/**
 * The connection: chDB keeps a query's settings for the next query of its session, so an insert
 * that names no dedup token must not inherit the drainer's last one (it would be dropped as that
 * insert's replay, silently).
 */
import { describe, expect, it } from 'vitest'
import { rowTsv } from '../../collector/src/spool/record.js'
import { withStackColumn } from '../../collector/src/sourcemaps/regroupRows.js'
import { collectorForTests } from '../helpers/collector.js'
import { eventRow } from '../helpers/eventRow.js'
import { countEvents, insertEvents } from '../helpers/storeQueries.js'

describe('the connection', () => {
  const collector = collectorForTests({ evalIntervalMs: 3_600_000 })

  it('stores an insert without a token after one with a token, and a replay of that one once', async () => {
    const store = collector().app.vigil.store
    const row = (session: string) => eventRow({ project: 'tokens', release: '1.0.0', session, kind: 'flow', name: 'login', outcome: 'ok', ts: Date.now() })
    const drained = withStackColumn(`${rowTsv(row('a'))}\n`)
    await store.events.insertRaw(drained, 'segment-1:0')
    await insertEvents(store, [row('b')])
    await store.events.insertRaw(drained, 'segment-1:0')
    await insertEvents(store, [row('c')])
    expect(await countEvents(store, 'tokens')).toBe(3)
  })
})
