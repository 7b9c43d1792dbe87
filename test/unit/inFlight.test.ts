/** Calls asking the same while one runs share its answer (or its failure); the next asks again. */
import { describe, expect, it } from 'vitest'
import { sharedInFlight } from '../../collector/src/lib/inFlight.js'

describe('sharedInFlight', () => {
  it('runs once for the same key at the same time, again afterwards, apart for another key', async () => {
    let runs = 0
    let fail = false
    const read = sharedInFlight(
      async (q: { range: string }) => {
        const run = ++runs
        await new Promise((r) => setTimeout(r, 20))
        if (fail) throw new Error(`failed ${q.range}`)
        return { range: q.range, run }
      },
      (q) => q.range,
    )
    const tabs = await Promise.all(Array.from({ length: 10 }, () => read({ range: '7d' })))
    expect(runs).toBe(1)
    expect(new Set(tabs).size).toBe(1)
    expect((await Promise.all([read({ range: '7d' }), read({ range: '1h' })])).map((x) => x.run)).toEqual([2, 3])
    fail = true
    const failed = await Promise.allSettled([read({ range: '7d' }), read({ range: '7d' })])
    expect(failed.map((x) => x.status)).toEqual(['rejected', 'rejected'])
    expect(runs).toBe(4)
    fail = false
    expect((await read({ range: '7d' })).run).toBe(5)
  })
})
