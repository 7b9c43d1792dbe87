/**
 * Error grouping on what builds and browsers produce. Real bundles (Vite, webpack) are built and
 * run in Chromium by test/e2e/real-builds.test.ts; here, the parts on their own: the file names
 * every common bundler writes, the messages of the engines we cannot run here (Firefox, Safari),
 * the stack formats, and which releases a group counts as seen in.
 */
import { describe, expect, it } from 'vitest'
import { stableFileName } from '../../collector/src/grouping/fileName.js'
import { fingerprint, unmangled } from '../../collector/src/grouping/fingerprint.js'
import { functionAt } from '../../collector/src/grouping/functionName.js'
import { normaliseMessage } from '../../collector/src/grouping/message.js'
import { parseStack } from '../../collector/src/grouping/stack.js'
import { sourceKey, sourcePath } from '../../collector/src/grouping/symbolicate.js'
import { newInRelease } from '../../collector/src/detector/rules.js'
import { groupHistory, type GroupSighting } from '../../collector/src/store/groupHistory.js'

describe('file names without content hashes', () => {
  // Two builds of the same file by each bundler, as they name them by default.
  const builds: [bundler: string, a: string, b: string, stable: string][] = [
    ['Vite / Rollup / Rolldown (8 base64url, - and _ included)', '/assets/index-Dqm-mHPd.js', '/assets/index-BQF9_Ufj.js', 'index.js'],
    ['Vite, a named chunk', '/assets/settings-CiyT83Tr.js', '/assets/settings-CFGz9whh.js', 'settings.js'],
    ['SvelteKit (dot before the hash)', '/_app/immutable/chunks/index.D4x8kP2a.js', '/_app/immutable/chunks/index.BtU9-8Yk.js', 'index.js'],
    ['esbuild, Angular (8 base32)', '/chunk-JBCXK7FF.js', '/chunk-2KK2PFVQ.js', 'chunk.js'],
    ['esbuild entry', '/assets/main-B2SOXBIP.js', '/assets/main-SNRSLYSJ.js', 'main.js'],
    ['webpack [name].[contenthash]', '/main.93a5956e1ce4e7bcb5dd.js', '/main.e6b2788a0a0e7c5a547c.js', 'main.js'],
    ['webpack numeric chunk ids', '/768.15a0ddc74da57380f98d.js', '/412.0ab1ddc74da57380f98d.js', '<chunk>.js'],
    ['create-react-app', '/static/js/787.2c1f3a4b.chunk.js', '/static/js/21.9a0b7c6d.chunk.js', '<chunk>.js'],
    ['Parcel', '/index.3d5c4a9f.js', '/index.77e0d4aa.js', 'index.js'],
    ['Next.js pages', '/_next/static/chunks/pages/_app-0c7baedefba6b077.js', '/_next/static/chunks/pages/_app-9f8e7d6c5b4a3921.js', '_app.js'],
    ['Next.js shared chunks', '/_next/static/chunks/2f4a1e9c-6d8e7f3c1a2b3c4d.js', '/_next/static/chunks/7b1c2d3e-0a1b2c3d4e5f6a7b.js', '<chunk>.js'],
    ['Turbopack', '/_next/static/chunks/0b1c2d3e4f5a6b7c.js', '/_next/static/chunks/a1b2c3d4e5f60718.js', '<chunk>.js'],
    ['Nuxt', '/_nuxt/BkP1Yw3c.js', '/_nuxt/Dx_9-abQ.js', '<chunk>.js'],
    ['Gatsby', '/app-4f3e2d1c0b9a8f7e6d5c.js', '/app-0a1b2c3d4e5f6a7b8c9d.js', 'app.js'],
  ]
  it.each(builds)('%s', (_, a, b, stable) => {
    expect(stableFileName(a)).toBe(stable)
    expect(stableFileName(b)).toBe(stable)
  })

  it('cuts a hash the same way whatever its own characters (one that is all hex included)', () => {
    for (const name of ['index-legacy', 'use-api', 'vendor-lodash', 'app.config'])
      expect(new Set(['Dqm3mHPd', 'DeadBe3f', 'deadbeef', '-a_b-c_d', 'JBCXK7FF'].map((h) => stableFileName(`/assets/${name}-${h}.js`))), name).toEqual(new Set([`${name}.js`]))
  })

  it('keeps names that carry no hash', () => {
    expect(['/app.js', '/js/checkout.js', '/react-dom.production.min.js', '/vendor.mjs'].map(stableFileName)).toEqual(['app.js', 'checkout.js', 'react-dom.js', 'vendor.mjs'])
  })
})

describe('messages', () => {
  it('leave out what minifiers rename, in every engine', () => {
    const same: [string, string][] = [
      ['e.map is not a function', 't.map is not a function'], // V8
      ['n is not a function', 'Ae is not a function'],
      ['o is not defined', 'r is not defined'],
      ["Cannot access 'r' before initialization", "Cannot access 'Ze' before initialization"],
      ['can\'t access property "map", e is undefined', 'can\'t access property "map", t is undefined'], // Firefox
      ["can't access lexical declaration 'e' before initialization", "can't access lexical declaration 'n' before initialization"],
      ["undefined is not an object (evaluating 'e.data.map')", "undefined is not an object (evaluating 'n.data.map')"], // Safari
      ["e.map is not a function. (In 'e.map(t=>t.id)', 'e.map' is undefined)", "n.map is not a function. (In 'n.map(r=>r.id)', 'n.map' is undefined)"],
      ["Can't find variable: e", "Can't find variable: t"],
    ]
    for (const [a, b] of same) expect(normaliseMessage(a), a).toBe(normaliseMessage(b))
  })

  it('keep what tells errors apart', () => {
    const apart = [
      "Cannot read properties of undefined (reading 'map')",
      "Cannot read properties of undefined (reading 'id')",
      'renderPlans is not defined',
      'Minified React error #418; visit https://react.dev/errors/418 for the full message',
      'Minified React error #423; visit https://react.dev/errors/423 for the full message',
    ]
    expect(new Set(apart.map(normaliseMessage)).size).toBe(apart.length)
  })

  it('replace ids, numbers and URLs', () => {
    expect(normaliseMessage('Order 12345 failed at https://api.example/v1/orders/12345?x=1')).toBe('Order <n> failed at <url>')
    expect(normaliseMessage('user 0b4f2a1e-7c1d-4f7e-9a2b-3c4d5e6f7a8b not found')).toBe('user <uuid> not found')
    expect(normaliseMessage('chunk 9f8e7d6c5b4a failed')).toBe('chunk <hex> failed')
  })
})

describe('stacks', () => {
  it('reads Chrome, Firefox and Safari frames, native frames included, extension frames left out', () => {
    const chrome = parseStack(
      "TypeError: x\n    at a (chrome-extension://abc/content.js:1:1)\n    at o.total (https://x/assets/index-Dqm.js:1:1092)\n    at Array.map (<anonymous>)\n    at https://x/assets/index-Dqm.js:1:3044\n    at async Promise.all (index 0)",
    )
    expect(chrome.map((f) => [f.fn, f.path, f.line, f.col])).toEqual([
      ['o.total', '/assets/index-Dqm.js', 1, 1092],
      ['Array.map', '<anonymous>', 0, 0],
      ['', '/assets/index-Dqm.js', 1, 3044],
      ['async Promise.all', 'index 0', 0, 0],
    ])
    const gecko = parseStack('total@https://x/app.js:15:28\nhandler/<@https://x/app.js:30:27\n@https://x/app.js:33:78\nfn@[native code]\nError: mail me@example.com')
    expect(gecko.map((f) => [f.fn, f.host, f.line])).toEqual([
      ['total', 'x', 15],
      ['handler/<', 'x', 30],
      ['', 'x', 33],
      ['fn', '', 0],
    ])
  })

  it("names without the minifier's names", () => {
    expect(['n', 'r.total', 'Module.e', 'HTMLButtonElement.<anonymous>', 'async Ae', 'new Checkout', 'handler/<'].map(unmangled)).toEqual([
      '',
      'total',
      'Module',
      'HTMLButtonElement.<anonymous>',
      '',
      'Checkout',
      'handler',
    ])
  })
})

describe('stack fingerprints', () => {
  const msg = "Cannot read properties of undefined (reading 'map')"
  // As Chromium reports the same bug from two Vite builds of one app (test/fixtures/shop).
  const build1 = `TypeError: ${msg}\n    at a (https://shop.example/assets/index-BfVFYfhv.js:1:998)\n    at HTMLButtonElement.<anonymous> (https://shop.example/assets/index-BfVFYfhv.js:1:3008)`
  const build2 = `TypeError: ${msg}\n    at i (https://shop.example/assets/index-BnHIludd.js:1:1055)\n    at HTMLButtonElement.<anonymous> (https://shop.example/assets/index-BnHIludd.js:1:3483)`

  it('are the same for the same bug in two builds: renamed files and functions, moved columns', () => {
    expect(fingerprint('TypeError', msg, build1, 'https://shop.example/')).toBe(fingerprint('TypeError', msg, build2, 'https://shop.example/'))
    expect(fingerprint('TypeError', msg, build1)).toMatch(/^[0-9a-f]{16}$/)
  })

  it('use the top frame only in minified code (inlining moves the frames below it), three in readable code', () => {
    const inlined = `TypeError: ${msg}\n    at a (https://shop.example/assets/index-Dx_9-abQ.js:1:998)`
    expect(fingerprint('TypeError', msg, inlined)).toBe(fingerprint('TypeError', msg, build1))
    const readable = (caller: string) => `TypeError: ${msg}\n    at renderPlans (https://shop.example/plans.js:7:31)\n    at ${caller} (https://shop.example/main.js:26:54)`
    expect(fingerprint('TypeError', msg, readable('showPlans'))).not.toBe(fingerprint('TypeError', msg, readable('openPlans')))
  })

  it('do not move when a large bundle names functions with three letters, or a minifier inlines the one that threw', () => {
    const at = (fn: string, file = 'index-Dqm-mHPd.js') => `TypeError: ${msg}\n    at ${fn} (https://shop.example/assets/${file}:1:4410)\n    at HTMLButtonElement.<anonymous> (https://shop.example/assets/${file}:1:9902)`
    const builds = [at('spn'), at('$pn', 'index-BnHIludd.js'), at('g9n', 'index-CiyT83Tr.js'), at('document.buttons.plans'), at('n')]
    expect(new Set(builds.map((s) => fingerprint('TypeError', msg, s, 'https://shop.example/'))).size).toBe(1)
    expect(normaliseMessage('Xke.map is not a function')).toBe(normaliseMessage('n.map is not a function'))
  })

  it('separate different errors', () => {
    const other = (type: string, m: string) => fingerprint(type, m, build1)
    expect(new Set([other('TypeError', msg), other('TypeError', "Cannot read properties of undefined (reading 'id')"), other('RangeError', msg)]).size).toBe(3)
  })

  it("group by the app's frames: a vendor's frame on top does not split a group", () => {
    const viaCdn = (file: string) => `TypeError: x is undefined\n    at wrap (https://cdn.vendor.example/${file}:10:1)\n    at renderPlans (https://app.example/app.js:1:1)`
    expect(fingerprint('TypeError', 'x is undefined', viaCdn('sdk.js'), 'https://app.example/plans')).toBe(fingerprint('TypeError', 'x is undefined', viaCdn('sdk-v2.js'), 'https://app.example/plans'))
    // Without the page URL, every frame counts.
    expect(fingerprint('TypeError', 'x is undefined', viaCdn('sdk.js'))).not.toBe(fingerprint('TypeError', 'x is undefined', viaCdn('sdk-v2.js')))
  })
})

describe('original sources', () => {
  it('name a source the same whatever the bundler or the machine that built it', () => {
    expect(['../../src/plans.js', 'webpack://shop/./src/plans.js', 'webpack:///src/plans.js', 'src/plans.js'].map(sourcePath)).toEqual(Array(4).fill('src/plans.js'))
    expect(sourceKey('/home/runner/work/shop/shop/src/pages/Plans.tsx')).toBe(sourceKey('/builds/x7/src/pages/Plans.tsx'))
  })

  it('find the function around a line', () => {
    const lines = `export class Checkout {
  constructor(cart) {
    this.cart = cart
  }

  total(): number {
    return this.cart.lines.reduce((sum, line) => sum + line.price, 0)
  }
}

export function renderPlans(out) {
  const plans = cached('plans')
  if (out) {
    out.innerHTML = plans.map(planRow).join('')
  }
}
const Plans = ({ plans }: Props) => {
  return plans.map((p) => p.name)
}
onClick('plans', () => renderPlans(out))`.split('\n')
    expect(functionAt(lines, 7, 28)).toBe('Checkout.total')
    expect(functionAt(lines, 14, 23)).toBe('renderPlans')
    expect(functionAt(lines, 18, 10)).toBe('Plans')
    // Inside an inline callback: anonymous (the engine's or the caller's name says more).
    expect(functionAt(lines, 20, 30)).toBeUndefined()
  })
})

describe('which releases a group was seen in', () => {
  const seen = (fingerprint: string, stack: string, release: string, first: number): GroupSighting => ({ fingerprint, stack_fingerprint: stack, release, first })
  const older = new Set(['1.0.0', '1.1.0'])

  it('a group regrouped by a map: its own sightings, and those of releases without maps that share its stack fingerprint', () => {
    const rows = [seen('OLD', 'S', '1.0.0', 1), seen('NEW', 'S', '1.2.0', 3), seen('S', 'S', '1.1.0', 2)]
    // 1.1.0 had no maps: its errors with the stack fingerprint S may be either bug.
    expect(groupHistory(rows, 'NEW').seenIn.map((s) => s.release)).toEqual(['1.1.0', '1.2.0'])
    expect(newInRelease(groupHistory(rows, 'NEW'), older)).toBe(false)
    // Once every release before had maps, the new bug is told apart from the old one.
    const mapped = [seen('OLD', 'S', '1.0.0', 1), seen('OLD', 'S', '1.1.0', 2), seen('NEW', 'S', '1.2.0', 3)]
    expect(newInRelease(groupHistory(mapped, 'NEW'), older)).toBe(true)
    expect(newInRelease(groupHistory(mapped, 'OLD'), older)).toBe(false)
    // Maps a minute late for 1.1.0: its first errors, stored with the stack's group, may have
    // been NEW too (a bug seen only in that minute would be new in 1.2.0 otherwise): not new.
    const late = [...mapped, seen('S', 'S', '1.1.0', 2)]
    expect(newInRelease(groupHistory(late, 'NEW'), older)).toBe(false)
    expect(groupHistory(late, 'S').seenIn.map((s) => s.release)).toEqual(['1.0.0', '1.1.0', '1.2.0'])
  })

  it("a bug's stack groups in every browser count: Chrome's and Firefox's stacks of one bug differ", () => {
    // 1.1.0 had no maps; its Firefox users' errors have the Firefox stack group SF only.
    const rows = [seen('BUG', 'SC', '1.2.0', 3), seen('BUG', 'SF', '1.2.0', 3), seen('SF', 'SF', '1.1.0', 2)]
    expect(groupHistory(rows, 'BUG')).toMatchObject({ stackFingerprints: ['SC', 'SF'], firstRelease: '1.1.0' })
    expect(newInRelease(groupHistory(rows, 'BUG'), older)).toBe(false)
    // Listed in any order, the same answer.
    expect(newInRelease(groupHistory([...rows].reverse(), 'BUG'), older)).toBe(false)
  })

  it('a group without a map: any group with its stack fingerprint, mapped or not', () => {
    const rows = [seen('OLD', 'S', '1.0.0', 1), seen('S', 'S', '1.2.0', 3)]
    expect(groupHistory(rows, 'S')).toMatchObject({ stackFingerprints: ['S'], firstSeen: 1, firstRelease: '1.0.0' })
    expect(newInRelease(groupHistory(rows, 'S'), older)).toBe(false)
    expect(newInRelease(groupHistory([seen('S', 'S', '1.2.0', 3)], 'S'), older)).toBe(true)
  })

  it('nothing is new in the first release, nor what an older release also shows', () => {
    expect(newInRelease(groupHistory([seen('S', 'S', '1.0.0', 1)], 'S'), new Set())).toBe(false)
    // Seen first in the new release, then in an older one too: not the new release's doing.
    expect(newInRelease(groupHistory([seen('S', 'S', '1.2.0', 1), seen('S', 'S', '1.0.0', 5)], 'S'), older)).toBe(false)
  })
})
