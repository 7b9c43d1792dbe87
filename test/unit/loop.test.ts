import { describe, expect, it } from 'vitest'
import { createLoop } from '../../collector/src/lib/loop.js'

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('createLoop', () => {
  it('never runs two passes at once; a wake during a pass runs one more right after it', async () => {
    let active = 0
    let most = 0
    let passes = 0
    const loop = createLoop({
      everyMs: Infinity,
      run: async () => {
        active++
        most = Math.max(most, active)
        passes++
        await tick(20)
        active--
      },
      onError: () => undefined,
    })
    loop.start()
    await tick(5)
    for (let i = 0; i < 5; i++) loop.wake()
    await tick(80)
    await loop.stop()
    expect(most).toBe(1)
    // The first pass, then one for all the wakes during it.
    expect(passes).toBe(2)
  })

  it('hands a failed pass to onError, whose delay comes before the next; a success starts the count again', async () => {
    const seen: number[] = []
    let n = 0
    const loop = createLoop({
      everyMs: Infinity,
      run: async () => {
        n++
        if (n <= 2) throw new Error(`pass ${n}`)
        if (n === 3) return 0
        if (n === 4) throw new Error('again')
        return Infinity
      },
      onError: (_err, failures) => {
        seen.push(failures)
        return 1
      },
    })
    loop.start()
    await tick(50)
    await loop.stop()
    expect(n).toBe(5)
    expect(seen).toEqual([1, 2, 1])
  })

  it('waits for the pass in progress on stop, and starts none after it', async () => {
    let done = false
    let passes = 0
    const loop = createLoop({
      everyMs: 1,
      run: async () => {
        passes++
        await tick(30)
        done = true
      },
      onError: () => undefined,
    })
    loop.start()
    await tick(5)
    await loop.stop()
    expect(done).toBe(true)
    loop.wake()
    await tick(20)
    expect(passes).toBe(1)
  })
})
