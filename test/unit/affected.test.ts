import { describe, expect, it } from 'vitest'
import { mostly } from '../../collector/src/detector/payload.js'
import { concentrated } from '../../collector/src/store/segmentReads.js'

/** Two browsers' sessions and failed sessions, as segmentReads counts them. */
const twoBrowsers = (firefox: [number, number], chrome: [number, number]) => {
  const all = { sessions: firefox[0] + chrome[0], failed_sessions: firefox[1] + chrome[1] }
  const counts = [
    { dimension: 'all' as const, value: '', ...all },
    { dimension: 'browser' as const, value: 'Firefox 133', sessions: firefox[0], failed_sessions: firefox[1] },
    { dimension: 'browser' as const, value: 'Chrome 131', sessions: chrome[0], failed_sessions: chrome[1] },
    { dimension: 'device' as const, value: 'desktop', ...all },
  ]
  return { ...all, segments: concentrated(counts, all) }
}

describe('who is affected', () => {
  it('names the segment whose sessions fail clearly more than the others’, with its shares', () => {
    const a = twoBrowsers([14, 12], [14, 0])
    expect(a.segments[0]).toMatchObject({ dimension: 'browser', value: 'Firefox 133', failed_share: 1, session_share: 0.5 })
    // A segment every session is in says nothing: last.
    expect(a.segments.at(-1)).toMatchObject({ dimension: 'device', failed_share: 1, session_share: 1 })
    expect(mostly(a)).toBe('; mostly browser Firefox 133 (100.0% of failed sessions, 50.0% of all)')
  })

  it('names nothing when failures fall alike everywhere, or on too few sessions to tell', () => {
    expect(mostly(twoBrowsers([14, 7], [14, 6]))).toBe('')
    expect(mostly(twoBrowsers([4, 3], [4, 1]))).toBe('')
    // A segment with a single failed session is not listed at all.
    expect(twoBrowsers([10, 1], [10, 0]).segments).toEqual([])
    expect(mostly(null)).toBe('')
  })
})
