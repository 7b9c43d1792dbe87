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
      { max, watchMs: 60_000, renewMax: 8, roundMs: 1_000, keepsFailure: (err) => err instanceof RangeError, maxAgeMs: (q) => (q.range === '7d' ? 30_000 : 5_000), acrossLooks: (q) => q.range === '7d', now: () => t },
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

describe('snapshots under slow answers', () => {
  /** Answers that come when the test says (`finish`), each run numbered. */
  const slow = (renewMax = 8) => {
    let t = 0
    const waiting: { q: string; resolve: (v: number) => void; reject: (e: unknown) => void }[] = []
    let runs = 0
    const s = snapshots(
      (q: string) => {
        runs++
        return new Promise<number>((resolve, reject) => waiting.push({ q, resolve, reject }))
      },
      (q) => q,
      { max: 10, watchMs: 60_000, renewMax, roundMs: 60_000, maxAgeMs: () => 5_000, acrossLooks: () => false, keepsFailure: (e) => e instanceof RangeError, now: () => t },
    )
    const finish = async () => {
      for (const w of waiting.splice(0)) w.q === 'missing' ? w.reject(new RangeError('not found')) : w.resolve(runs)
      await new Promise((r) => setTimeout(r, 0))
    }
    return { s, runs: () => runs, at: (ms: number) => void (t = ms), finish, waiting: () => waiting.length }
  }

  it('shares an answer still being computed, however long it takes, and ages it from when it is ready', async () => {
    const { s, runs, at, finish } = slow()
    const first = s.get('7d')
    at(20_000)
    const second = s.get('7d')
    expect(runs()).toBe(1)
    await finish()
    expect(await first).toBe(await second)
    at(24_000)
    await s.get('7d')
    expect(runs()).toBe(1)
  })

  it('runs one renewal at a time: looks that end meanwhile share one more, each renewing at most renewMax', async () => {
    const { s, runs, finish, waiting } = slow(2)
    for (const q of ['a', 'b', 'c']) void s.get(q)
    await finish()
    const looks = [s.renew(), s.renew(), s.renew()]
    await new Promise((r) => setTimeout(r, 0))
    // The first renewal: the two most recently asked; the other looks wait for one more.
    expect(waiting()).toBe(2)
    expect(runs()).toBe(5)
    await finish()
    await new Promise((r) => setTimeout(r, 0))
    expect(waiting()).toBe(2)
    await finish()
    await Promise.all(looks)
    expect(runs()).toBe(7)
  })

  it('keeps a failure that is an answer until the next look, and does not renew it', async () => {
    const { s, runs, finish } = slow()
    const a = s.get('missing')
    await finish()
    await expect(a).rejects.toThrow('not found')
    await expect(s.get('missing')).rejects.toThrow('not found')
    expect(runs()).toBe(1)
    await s.renew()
    expect(runs()).toBe(1)
    const b = s.get('missing')
    expect(runs()).toBe(2)
    await finish()
    await expect(b).rejects.toThrow('not found')
  })
})
