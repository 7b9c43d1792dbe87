/**
 * Page answers kept as long as what they read stands: one computation for every tab asking the
 * same; after a look, those asked lately computed again before the pages are told (renew); on an
 * alert, all asked again (drop); a wide range's answer lingers; at most `max` kept; a failure kept
 * for no one.
 */
import { describe, expect, it } from 'vitest'
import { snapshots } from '../../collector/src/lib/snapshots.js'

describe('snapshots', () => {
  const setup = (max = 10) => {
    let t = 0
    let runs = 0
    let fail = false
    const s = snapshots(
      async (q: { range: string }) => {
        const run = ++runs
        await new Promise((r) => setTimeout(r, 5))
        if (fail) throw new Error(`failed ${q.range}`)
        if (q.range === 'missing') throw new RangeError('not found')
        return { range: q.range, run }
      },
      (q) => q.range,
      { max, watchMs: 60_000, keepsFailure: (err) => err instanceof RangeError, maxAgeMs: (q) => (q.range === '7d' ? 30_000 : 5_000), acrossLooks: (q) => q.range === '7d', now: () => t },
    )
    return { s, runs: () => runs, at: (ms: number) => void (t = ms), failing: (f: boolean) => void (fail = f) }
  }

  it('computes once for every tab asking the same, until a look, and again before the pages are told', async () => {
    const { s, runs, at } = setup()
    const tabs = await Promise.all(Array.from({ length: 10 }, () => s.get({ range: '1h' })))
    expect(runs()).toBe(1)
    expect(new Set(tabs).size).toBe(1)
    at(1000)
    expect((await s.get({ range: '1h' })).run).toBe(1)
    // A look: the answer asked lately is computed again while the look waits to be told.
    await s.renew()
    expect(runs()).toBe(2)
    expect((await s.get({ range: '1h' })).run).toBe(2)
    expect(runs()).toBe(2)
    // No look for longer than the oldest an answer is given: asked again.
    at(7000)
    expect((await s.get({ range: '1h' })).run).toBe(3)
  })

  it('lets a wide range linger across looks, drops everything on an alert, forgets what is not asked', async () => {
    const { s, runs, at } = setup()
    await s.get({ range: '7d' })
    at(10_000)
    await s.renew()
    expect((await s.get({ range: '7d' })).run).toBe(1)
    at(31_000)
    await s.renew()
    expect((await s.get({ range: '7d' })).run).toBe(2)
    s.drop()
    expect((await s.get({ range: '7d' })).run).toBe(3)
    // Not asked for over a minute: not computed again at the next look, and asked anew after.
    at(100_000)
    await s.renew()
    expect(runs()).toBe(3)
    expect((await s.get({ range: '7d' })).run).toBe(4)
  })

  it('keeps at most max answers, and no failure but one that is an answer', async () => {
    const { s, runs, failing } = setup(2)
    for (const range of ['a', 'b', 'c']) await s.get({ range })
    expect((await s.get({ range: 'c' })).run).toBe(3)
    expect((await s.get({ range: 'a' })).run).toBe(4)
    failing(true)
    s.drop()
    await expect(s.get({ range: 'a' })).rejects.toThrow('failed a')
    failing(false)
    expect((await s.get({ range: 'a' })).run).toBe(6)
    expect(runs()).toBe(6)
    // A failure that is an answer (a 404) is kept like one.
    await expect(s.get({ range: 'missing' })).rejects.toThrow('not found')
    await expect(s.get({ range: 'missing' })).rejects.toThrow('not found')
    expect(runs()).toBe(7)
  })
})
