import { describe, expect, it } from 'vitest'
import { fingerprint, normaliseMessage, parseStack } from '../../collector/src/ingest/fingerprint.js'

const stackOf = (file: string, line: number) =>
  `TypeError: Cannot read properties of null (reading 'map')\n    at renderPlans (https://app.example/${file}:${line}:17)\n    at https://app.example/${file}:${line + 40}:3`

describe('error grouping', () => {
  it('is stable across releases: content hashes and line numbers do not split a group', () => {
    const a = fingerprint('TypeError', "Cannot read properties of null (reading 'map')", stackOf('assets/app.3f9a1c2b.js', 120))
    const b = fingerprint('TypeError', "Cannot read properties of null (reading 'map')", stackOf('assets/app.77e0d4aa.js', 131))
    expect(a).toBe(b)
    expect(a).toMatch(/^[0-9a-f]{16}$/)
  })

  it('separates different errors', () => {
    const map = fingerprint('TypeError', "Cannot read properties of null (reading 'map')", stackOf('app.js', 1))
    const filter = fingerprint('TypeError', "Cannot read properties of null (reading 'filter')", stackOf('app.js', 1))
    const range = fingerprint('RangeError', "Cannot read properties of null (reading 'map')", stackOf('app.js', 1))
    expect(new Set([map, filter, range]).size).toBe(3)
  })

  it('groups by in-app frames: a vendor frame on top does not split a group', () => {
    const viaCdnA = `TypeError: x is undefined\n    at wrap (https://cdn.vendor.example/sdk.js:10:1)\n    at renderPlans (https://app.example/app.js:1:1)`
    const viaCdnB = `TypeError: x is undefined\n    at other (https://cdn.vendor.example/sdk-v2.js:99:1)\n    at renderPlans (https://app.example/app.js:1:1)`
    expect(fingerprint('TypeError', 'x is undefined', viaCdnA, 'https://app.example/plans')).toBe(
      fingerprint('TypeError', 'x is undefined', viaCdnB, 'https://app.example/plans'),
    )
    // Without the page URL, every frame counts.
    expect(fingerprint('TypeError', 'x is undefined', viaCdnA)).not.toBe(fingerprint('TypeError', 'x is undefined', viaCdnB))
  })

  it('normalises volatile parts of messages', () => {
    expect(normaliseMessage('Order 12345 failed at https://api.example/v1/orders/12345?x=1')).toBe('Order <n> failed at <url>')
    expect(normaliseMessage('user 0b4f2a1e-7c1d-4f7e-9a2b-3c4d5e6f7a8b not found')).toBe('user <uuid> not found')
    expect(normaliseMessage('chunk 9f8e7d6c5b4a failed')).toBe('chunk <hex> failed')
  })

  it('reads Chrome and Firefox stacks and drops extension frames', () => {
    const frames = parseStack(
      'Error: x\n    at a (chrome-extension://abc/content.js:1:1)\n    at b (https://x/app.js:2:3)\nc@https://x/vendor.1234abcd.js:5:6',
    )
    expect(frames).toEqual([
      { fn: 'b', file: 'app.js', host: 'x' },
      { fn: 'c', file: 'vendor.js', host: 'x' },
    ])
  })
})
