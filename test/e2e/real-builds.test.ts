/**
 * Errors from real production builds. The shop app (test/fixtures/shop) is built by Vite and by
 * webpack — minified, content-hashed, names mangled — for three releases: 1.1.0 changes only
 * unrelated code; 1.2.0 adds two new bugs, one (coupons) whose message is the old plans bug's
 * word for word, in the same bundle, and one (offers) of its own. Each build is served to real
 * Chromium with the agent's one-line tag; source maps go up with the real CLI (Vite: 1.0.0 and
 * 1.2.0, not 1.1.0; webpack: all, 1.2.0's a while after its first users). Then the collector's
 * groups, its detector, its webhook and its release page are checked: the old bugs keep their
 * group across releases, new bugs are new where the maps can tell, nothing blames a release
 * that changed nothing, and stacks read in the original source where there are maps.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ReleaseDetail } from '../../collector/src/readModels.js'
import { launchChromium } from '../helpers/browser.js'
import { buildShop, serveDir, type Bundler, type ShopBuild } from '../helpers/buildShop.js'
import { runCli } from '../helpers/cli.js'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'
import { startReceiver } from '../helpers/receiver.js'
import { waitFor } from '../helpers/waitFor.js'
import { storedEvents } from '../helpers/storeQueries.js'

const KEY = 'vgl_real_builds_e2e'
const SHOTS = join(process.cwd(), 'test-output', 'screenshots')
const RELEASES = ['1.0.0', '1.1.0', '1.2.0'] as const
type Release = (typeof RELEASES)[number]
/** Sessions per release: more than a group new in every session needs to page, so a group split by a build would page. */
const SESSIONS = 8
const MESSAGE = "Cannot read properties of undefined (reading 'map')"

type Group = ReleaseDetail['error_groups'][number]
type Payload = { data: { release: string; environment: string; rule: string; subject: string; top_errors: (Pick<Group, 'fingerprint' | 'frames' | 'stack' | 'symbolicated' | 'new_in_release'> & { message: string })[] } }

describe('errors from real production builds', () => {
  const dir = tempDir('vigil-real-builds-')
  let collector: Running
  let receiver: Awaited<ReturnType<typeof startReceiver>>
  let slack: Awaited<ReturnType<typeof startReceiver>>
  let browser: Browser
  const builds = new Map<string, ShopBuild>()
  const build = (bundler: Bundler, release: Release) => builds.get(`${bundler} ${release}`)!

  /** One user: a new browser profile loads the release, clicks, and leaves once the agent has delivered. */
  const session = async (origin: string, clicks: string[]) => {
    const ctx = await browser.newContext()
    // Counts what the page threw, so the session ends after the last error (settings' comes by a dynamic import).
    await ctx.addInitScript(() => {
      const w = window as unknown as { thrown: number }
      w.thrown = 0
      addEventListener('error', () => w.thrown++)
      addEventListener('unhandledrejection', () => w.thrown++)
    })
    const p = await ctx.newPage()
    await p.goto(`${origin}/`)
    for (const id of clicks) await p.click(`#${id}`)
    await p.waitForFunction((n) => (window as unknown as { thrown: number }).thrown >= n, clicks.length)
    await p.evaluate(() => (window as unknown as { vigil: { flush: () => void } }).vigil.flush())
    await p.waitForFunction(() => (localStorage.getItem('vigil.q') ?? '[]') === '[]', null, { timeout: 10_000 })
    await ctx.close()
  }

  /** SESSIONS users of one release of one bundler's build, each hitting the old bugs (and the new one, in 1.2.0). */
  const traffic = async (bundler: Bundler, release: Release, n = SESSIONS) => {
    const b = build(bundler, release)
    const tag = `<script src="/vigil.js" data-key="${KEY}" data-release="${release}" data-env="${bundler}" data-vitals="false"></script>`
    const app = await serveDir(b.dir, (html) => html.replace('<head>', `<head>${tag}`), collector.url)
    try {
      // Four users at a time, as a release serves many.
      for (let i = 0; i < n; i += 4) {
        await Promise.all(
          Array.from({ length: Math.min(4, n - i) }, (_, k) => session(app.origin, ['plans', ...(release === '1.2.0' ? ['coupons', 'offers'] : []), ...((i + k) % 4 === 0 ? ['settings'] : [])])),
        )
      }
    } finally {
      await app.close()
    }
  }

  const upload = async (bundler: Bundler, release: Release) => {
    const r = await runCli(collector.url, ['sourcemaps', 'upload', '--release', release, build(bundler, release).dir])
    expect(r.code, r.out + r.err).toBe(0)
    return r.out
  }

  const page = async (bundler: Bundler, release: Release): Promise<ReleaseDetail> =>
    (await (await fetch(`${collector.url}/v1/releases/${release}?env=${bundler}&range=1h`)).json()) as ReleaseDetail
  const groupOf = (d: ReleaseDetail, pick: (g: Group) => boolean) => d.error_groups.filter(pick)
  const isPlans = (g: Group) => g.message === MESSAGE && g.stack.includes('HTMLButtonElement') && !g.frames.some((f) => f.file === 'src/coupons.js')

  beforeAll(async () => {
    ;[receiver, slack] = await Promise.all([startReceiver(), startReceiver()])
    collector = await startCollector(
      { dataDir: join(dir.path, 'collector'), projectKey: KEY, webhookUrl: receiver.url, slackWebhookUrl: slack.url, evalIntervalMs: 3_600_000 },
      { outbox: { pollMs: 100 } },
    )
    browser = await launchChromium()
    // Vite's 1.1.0 without maps (a team that did not upload that time); everything else with.
    await Promise.all(
      (['vite', 'webpack'] as const).flatMap((bundler) =>
        RELEASES.map(async (release) => {
          const b = await buildShop({ bundler, release, outDir: join(dir.path, `${bundler}-${release}`), sourcemap: !(bundler === 'vite' && release === '1.1.0') })
          builds.set(`${bundler} ${release}`, b)
        }),
      ),
    )
    await upload('vite', '1.0.0')
    await upload('vite', '1.2.0')
    for (const release of RELEASES) await traffic('vite', release)

    await upload('webpack', '1.0.0')
    await upload('webpack', '1.1.0')
    await traffic('webpack', '1.0.0')
    await traffic('webpack', '1.1.0')
    // 1.2.0 goes out before its maps: its first users' errors are stored with their stacks' groups.
    await traffic('webpack', '1.2.0', 3)
    await collector.app.vigil.stored()
    await upload('webpack', '1.2.0')
    await traffic('webpack', '1.2.0')
    await collector.app.vigil.stored()
    await collector.app.vigil.detector.evaluate()
  })

  afterAll(async () => {
    await browser?.close()
    await collector?.close()
    await receiver?.close()
    await slack?.close()
    dir.remove()
  })

  it('builds what production ships: every release renames the files and the functions around the same bugs', async () => {
    for (const bundler of ['vite', 'webpack'] as const) {
      const scripts = RELEASES.map((r) => build(bundler, r).scripts.find((s) => /\/(index|main)[-.]/.test(s)))
      expect(new Set(scripts).size, bundler).toBe(3)
    }
    // The same bug's stack as Chromium reported it differs between builds (names, files, columns).
    const stacks = await Promise.all(
      (['1.0.0', '1.1.0'] as const).map(async (release) => {
        const rows = await storedEvents(collector.app.vigil.store, 'default', { release, kind: 'error' })
        return rows.find((e) => e.env === 'vite' && e.message === MESSAGE)!.stack
      }),
    )
    expect(stacks[0]).not.toBe(stacks[1])
    expect(stacks[0]).toMatch(/\/assets\/index-[\w-]{8}\.js:1:\d+/)
  })

  for (const bundler of ['vite', 'webpack'] as const) {
    it(`${bundler}: an old bug keeps its group across releases, with maps or without, and is new nowhere`, async () => {
      const pages = await Promise.all(RELEASES.map((r) => page(bundler, r)))
      for (const bug of [isPlans, (g: Group) => g.message.includes("(reading 'theme')")]) {
        const groups = pages.map((d) => groupOf(d, bug))
        // Where the release had maps, the group of its original source: one across releases.
        const mapped = groups.flatMap((gs) => gs.filter((g) => g.grouped_by === 'source'))
        expect(mapped.length).toBeGreaterThanOrEqual(2)
        expect(new Set(mapped.map((g) => g.fingerprint)).size).toBe(1)
        // Where it had none (Vite's 1.1.0; webpack's 1.2.0 before its maps came), the group of its
        // stacks: the same in every build, and the mapped group's stack fingerprint.
        for (const g of groups.flat().filter((x) => x.grouped_by === 'stack')) expect(mapped[0]!.stack_fingerprints).toContain(g.fingerprint)
        // In no release is it new.
        for (const g of groups.flat()) expect(g.new_in_release, `${bundler} ${g.fingerprint}`).toBe(false)
      }
      if (bundler === 'vite') expect(groupOf(pages[1]!, isPlans).map((g) => [g.grouped_by, g.symbolicated])).toEqual([['stack', false]])
    })

    it(`${bundler}: 1.2.0's bugs are groups of their own, new where the maps can tell, and page`, async () => {
      const d = await page(bundler, '1.2.0')
      // (Webpack's first users of 1.2.0 are also in a group of their stacks, stored before the maps came.)
      const by = (file: string) => groupOf(d, (g) => g.grouped_by === 'source' && g.frames.some((f) => f.file === file))
      const [coupons, offers] = [by('src/coupons.js'), by('src/offers.js')]
      // The bug with the old one's message: a group of its own, by its original source.
      expect(coupons).toHaveLength(1)
      expect(coupons[0]).toMatchObject({ message: MESSAGE, symbolicated: true, sessions: SESSIONS })
      expect(groupOf(d, isPlans).some((g) => g.fingerprint === coupons[0]!.fingerprint)).toBe(false)
      // New, and paging, where every release before had maps. Not where one had none (Vite's
      // 1.1.0): its plans errors have the same stack group, and could have been this bug.
      expect(coupons[0]!.new_in_release).toBe(bundler === 'webpack')
      expect(offers).toHaveLength(1)
      expect(offers[0]).toMatchObject({ message: "Cannot read properties of undefined (reading 'title')", new_in_release: true, sessions: SESSIONS })
      // Webpack's first users' plans and coupons errors, one stack group: the plans bug's, not new.
      for (const g of d.error_groups.filter((x) => x.grouped_by === 'stack' && x.message === MESSAGE)) expect(g.new_in_release).toBe(false)
      const alerts = (await collector.app.vigil.store.alerts.alerts('default')).filter((a) => a.env === bundler)
      const paged = [...(bundler === 'webpack' ? [coupons[0]!.fingerprint] : []), offers[0]!.fingerprint].sort()
      expect(alerts.map((a) => [a.release, a.rule, a.subject]).sort()).toEqual(paged.map((fp) => ['1.2.0', 'new_error_group', fp]))
    })
  }

  it('blames no release that changed nothing: the first release and 1.1.0 have no alert, and no verdict of bad', async () => {
    for (const bundler of ['vite', 'webpack'] as const) {
      for (const release of ['1.0.0', '1.1.0'] as const) {
        const d = await page(bundler, release)
        expect(d.alerts, `${bundler} ${release}`).toEqual([])
        expect(d.verdict.verdict).not.toBe('bad')
        // The first release's errors are new to nothing: there is nothing older.
        expect(d.error_groups.filter((g) => g.new_in_release)).toEqual([])
      }
    }
  })

  it('sends the webhook with the original frames and source lines, the minified stack alongside', async () => {
    const payloads = () => receiver.received.map((r) => r.json as Payload).filter((p) => p?.data?.environment === 'webpack' && p.data.rule === 'new_error_group')
    const payload = await waitFor('the new group alerts', () => payloads().length === 2 && payloads().find((p) => p.data.top_errors.find((e) => e.fingerprint === p.data.subject)?.frames[0]?.file === 'src/coupons.js'))
    const coupons = payload.data.top_errors.find((e) => e.fingerprint === payload.data.subject)!
    expect(coupons).toMatchObject({ message: MESSAGE, symbolicated: true, new_in_release: true })
    expect(coupons.frames[0]).toMatchObject({ fn: 'applyCoupons', file: 'src/coupons.js', line: 4, mapped: true, inApp: true })
    expect(coupons.frames[0]!.context!.lines.join('\n')).toContain('return cart.coupons.map((coupon) =>')
    expect(coupons.frames.map((f) => f.fn)).toEqual(expect.arrayContaining(['applyCoupons', 'showDiscounts']))
    expect(coupons.stack).toMatch(/\/main\.[0-9a-f]{20}\.js:1:\d+/)
    const plans = payload.data.top_errors.find((e) => e.fingerprint !== payload.data.subject && e.message === MESSAGE)!
    expect(plans).toMatchObject({ new_in_release: false, symbolicated: true })
    expect(plans.frames[0]).toMatchObject({ fn: 'renderPlans', file: 'src/plans.js' })
    // Slack says where, in one line.
    const texts = () => slack.received.map((r) => (r.json as { text: string }).text)
    await waitFor('the Slack message', () => texts().some((t) => t.includes('(webpack) is bad') && t.includes('src/coupons.js')))
    expect(texts().find((t) => t.includes('src/coupons.js'))).toMatch(/\nWhere: `at applyCoupons \(src\/coupons\.js:4:\d+\)`/)
  })

  it('shows original frames on the release page where there are maps, the minified stack where there are none', async () => {
    const p = await browser.newPage({ viewport: { width: 1280, height: 1100 } })
    const errors: string[] = []
    p.on('pageerror', (e) => errors.push(e.message))
    await p.goto(`${collector.url}/releases/1.2.0?env=vite&range=1h`)
    const groups = (await page('vite', '1.2.0')).error_groups
    const coupons = groups.find((g) => g.frames.some((f) => f.file === 'src/coupons.js'))!
    const item = p.locator(`li.error-group[data-fingerprint="${coupons.fingerprint}"]`)
    await item.locator('summary').first().click()
    await expect.poll(() => item.locator('.frame.app code').first().textContent()).toBe('at applyCoupons (src/coupons.js:4:23)')
    expect(await item.locator('.source .line.here').first().textContent()).toContain('return cart.coupons.map((coupon) =>')
    const offers = groups.find((g) => g.frames.some((f) => f.file === 'src/offers.js'))!
    expect(await p.locator(`li.error-group[data-fingerprint="${offers.fingerprint}"] .tag.new`).count()).toBe(1)
    await item.locator('details.minified summary').click()
    expect(await item.locator('details.minified pre.stack').textContent()).toMatch(/\/assets\/index-[\w-]{8}\.js:1:\d+/)
    mkdirSync(SHOTS, { recursive: true })
    await p.screenshot({ path: join(SHOTS, 'release-1.2.0-source-mapped.png'), fullPage: true })

    // 1.1.0 had no maps uploaded: its stacks as the browser sent them, and a word on how to get more.
    await p.goto(`${collector.url}/releases/1.1.0?env=vite&range=1h`)
    const first = p.locator('li.error-group').first()
    await first.locator('summary').first().click()
    expect(await first.locator('pre.stack').textContent()).toMatch(/\/assets\/index-[\w-]{8}\.js:1:\d+/)
    expect(await first.textContent()).toContain('npx vigil sourcemaps upload')
    expect(errors).toEqual([])
    await p.close()
  })

  it('refuses a map that does not parse, one too large, and one that names no file, each with its code', async () => {
    const post = (q: string, body: string, headers: Record<string, string> = {}) =>
      fetch(`${collector.url}/v1/sourcemaps?${q}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } })
    const codes = async (r: Response) => [r.status, ((await r.json()) as { code: string }).code]
    expect(await codes(await post('release=9&url=/a.js', '{"version":3,'))).toEqual([400, 'VIGIL_INVALID_SOURCEMAP'])
    expect(await codes(await post('release=9&url=/a.js', '{"version":2,"sources":[],"mappings":""}'))).toEqual([400, 'VIGIL_INVALID_SOURCEMAP'])
    expect(await codes(await post('release=9', '{"version":3,"sources":["a.ts"],"names":[],"mappings":"AAAA"}'))).toEqual([400, 'VIGIL_SOURCEMAP_NO_FILE'])
    expect(await codes(await post('url=/a.js', '{}'))).toEqual([400, 'VIGIL_INVALID_BATCH'])
    const big = `{"version":3,"sources":["a.ts"],"names":[],"mappings":"AAAA","x":"${'x'.repeat(collector.app.vigil.config.sourcemapMaxBytes)}"}`
    expect(await codes(await post('release=9&url=/a.js', big))).toEqual([413, 'VIGIL_BODY_TOO_LARGE'])
    const token = collector.app.vigil.projects.get('default')!.uploadToken
    const ok = await post('release=9&url=https://cdn.example/static/a.js', '{"version":3,"file":"a.js","sources":["a.ts"],"names":[],"mappings":"AAAA"}', { authorization: `Bearer ${token}` })
    expect(ok.status).toBe(201)
    expect(await ok.json()).toMatchObject({ project: 'default', release: '9', path: '/static/a.js', sources: 1 })
  })
})
