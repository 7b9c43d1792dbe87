/**
 * The per-project limits on distinct names (collector/src/ingest/cardinality.ts), on a clock the
 * test sets: what is held, what is refused, when a place is free again, and who may take one.
 */
import { describe, expect, it } from 'vitest'
import { createCardinality } from '../../collector/src/ingest/cardinality.js'
import { eventRow } from '../helpers/eventRow.js'

const H = 3600_000
const T0 = 1_000 * H
const limits = { releases: 3, environments: 2, flows: 2, endpoints: 2, flagVariants: 2, tags: 2, errorGroups: 2 }
const flow = (release: string, env = 'production', name = 'login') => eventRow({ release, env, kind: 'flow', name, ts: T0, session: 's' })

describe('cardinality limits', () => {
  it('holds a name seen within the window, refuses a new one past the limit, and lets go one unseen for the window', () => {
    const c = createCardinality({ limits, windowMs: H })
    for (const r of ['a', 'b', 'c']) expect(c.admit('p', flow(r), T0)).toBeUndefined()
    expect(c.admit('p', flow('d'), T0)).toMatchObject({ code: 'too_many_releases' })
    expect(c.admit('p', flow('a', 'staging'), T0)).toBeUndefined()
    expect(c.admit('p', flow('a', 'dev'), T0)).toMatchObject({ code: 'too_many_environments' })
    expect(c.admit('p', flow('a', 'production', 'checkout'), T0)).toBeUndefined()
    expect(c.admit('p', flow('a', 'production', 'search'), T0)).toMatchObject({ code: 'too_many_flows' })
    // An event refused in one kind takes no place in another: `e` and `qa` stay out.
    expect(c.admit('p', flow('e', 'qa'), T0)).toMatchObject({ code: 'too_many_environments' })
    // Another project has its own places.
    expect(c.admit('q', flow('d'), T0)).toBeUndefined()

    // `a` and `b` go on being used; `c` is not seen for an hour: its place is free, for one name.
    expect(c.admit('p', flow('a'), T0 + 0.6 * H)).toBeUndefined()
    expect(c.admit('p', flow('b'), T0 + 0.6 * H)).toBeUndefined()
    expect(c.admit('p', flow('d'), T0 + H + 1)).toBeUndefined()
    expect(c.admit('p', flow('e'), T0 + H + 1)).toMatchObject({ code: 'too_many_releases' })
    expect(c.admit('p', flow('a'), T0 + H + 1)).toBeUndefined()
  })

  it('keeps a flood of names out, lets a name used more than the least used one in, and keeps releases storage saw', () => {
    const c = createCardinality({ limits, windowMs: H })
    c.seed('p', [{ env: 'production', release: '1.0.0', events: 5000, lastSeen: T0 - 60_000 }, { env: 'production', release: 'old', events: 9, lastSeen: T0 - 2 * H }], T0)
    // The release seen in the last hour holds its place after a restart; the flood takes the others and no more.
    let admitted = 0
    for (let i = 0; i < 10_000; i++) if (!c.admit('p', flow(`flood-${i}`), T0 + i)) admitted++
    expect(admitted).toBe(2)
    // Names that differ only in their last characters must not crowd the sketch's counters into a
    // promotion, whatever seeds a process draws (a weak hash let 5% of processes promote a name sent once).
    for (let n = 0; n < 20; n++) {
      const other = createCardinality({ limits, windowMs: H })
      let kept = 0
      for (let i = 0; i < 10_000; i++) if (!other.admit('p', flow(`flood-${i}`), T0 + i)) kept++
      expect(kept).toBe(3)
    }
    expect(c.admit('p', flow('1.0.0'), T0 + 10_000)).toBeUndefined()
    // The real next release: refused while it is new, in after a few events more than a flood name brought.
    const next = Array.from({ length: 40 }, (_, i) => c.admit('p', flow('1.1.0'), T0 + 20_000 + i))
    const first = next.findIndex((r) => r === undefined)
    expect(first).toBeGreaterThan(0)
    expect(first).toBeLessThan(30)
    expect(next.slice(first).every((r) => r === undefined)).toBe(true)
    // The busy release was not the one that gave its place.
    expect(c.admit('p', flow('1.0.0'), T0 + 30_000)).toBeUndefined()
  })
})
