/**
 * Errors frameworks catch before `window.onerror`, in real Chromium with the real React 19 and
 * Vue 3 (production builds, bundled by esbuild as an app's bundler would) and the agent's helpers
 * as built (dist/agent/*.mjs): a render error an error boundary replaced with its fallback, one
 * no boundary caught (React unmounts the tree), one inside a boundary the app says is not fatal,
 * one Vue's errorHandler took, and reportError on a page that runs the script tag. Each is
 * reported once, fatal ones as crashing their session.
 */
import { join } from 'node:path'
import * as esbuild from 'esbuild'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { html, startAppServer, type Pages } from '../helpers/appServer.js'
import { launchChromium } from '../helpers/browser.js'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'
import { storedEvents } from '../helpers/storeQueries.js'
import { waitFor } from '../helpers/waitFor.js'

const KEY = 'vgl_frameworks_e2e_key'
const root = join(import.meta.dirname, '../..')

/** An app's code bundled for production, with the agent's files as built. */
const bundle = async (code: string) => {
  const r = await esbuild.build({
    stdin: { contents: code, resolveDir: root, loader: 'js' },
    bundle: true,
    format: 'iife',
    minify: true,
    write: false,
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"', __VUE_OPTIONS_API__: 'true', __VUE_PROD_DEVTOOLS__: 'false', __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false' },
  })
  return r.outputFiles[0]!.text
}

// The ES module agent, started by the app; a component that throws while rendering.
const start = (origin: string) => `
import { init } from './dist/agent/vigil.mjs'
init({ key: '${KEY}', release: 'fw-1.0.0', env: 'production', endpoint: '${origin}' })
const which = new URLSearchParams(location.search).get('case')
const el = document.getElementById('root')
`
const reactApp = (origin: string) => `${start(origin)}
import { createElement as h } from 'react'
import { createRoot } from 'react-dom/client'
import { ErrorBoundary, rootOptions } from './dist/agent/react.mjs'
const Plans = () => { const plans = {}; return h('ul', null, plans.map((p) => h('li', null, p))) }
const fallback = h('p', { id: 'fallback' }, 'Something went wrong')
const tree = {
  boundary: h(ErrorBoundary, { fallback }, h(Plans)),
  widget: h('div', null, h('p', { id: 'page' }, 'the page'), h(ErrorBoundary, { fallback, fatal: false }, h(Plans))),
  uncaught: h(Plans),
}[which]
createRoot(el, rootOptions()).render(tree)
`
const vueApp = (origin: string) => `${start(origin)}
import { createApp, h } from 'vue'
import { vigilVue } from './dist/agent/vue.mjs'
createApp({ render: () => h('p', null, ({}).name.length) }).use(vigilVue).mount(el)
`
// A page that runs the script tag; the app's bundle reports through it.
const tagApp = `
import { reportError } from './dist/agent/report.mjs'
reportError(new Error('the cart could not load'), { fatal: true })
reportError(new Error('a tooltip could not load'))
`

describe('errors frameworks catch, in Chromium', () => {
  const dir = tempDir()
  let collector: Running
  let app: Awaited<ReturnType<typeof startAppServer>>
  let browser: Browser
  const logged: string[] = []

  beforeAll(async () => {
    collector = await startCollector({ dataDir: dir.path, projectKey: KEY, evalIntervalMs: 3_600_000 })
    // The pages are made once the app's origin is known (the ES module agent sends to it).
    const pages: Pages = {}
    app = await startAppServer(collector.url, pages)
    const [react, vue, tag] = await Promise.all([bundle(reactApp(app.origin)), bundle(vueApp(app.origin)), bundle(tagApp)])
    const js = (body: string) => ({ body, type: 'text/javascript' })
    const page = (src: string) => ({ body: `<!doctype html><html><body><div id="root"></div><script src="${src}"></script></body></html>` })
    Object.assign(pages, {
      '/react': page('/react.js'),
      '/react.js': js(react),
      '/vue': page('/vue.js'),
      '/vue.js': js(vue),
      '/tag': { body: html({ key: KEY, release: 'fw-1.0.0', env: 'production', attrs: 'data-vitals="false"', body: '<script src="/tag.js"></script>' }).body },
      '/tag.js': js(tag),
      '/blank': { body: '<!doctype html><title>elsewhere</title>' },
    })
    browser = await launchChromium()
  })

  afterAll(async () => {
    await browser?.close()
    await app?.close()
    await collector?.close()
    dir.remove()
  })

  it('reports each error once, fatal ones as crashing their session, and the page shows its fallback', async () => {
    const context = await browser.newContext()
    const p = await context.newPage()
    p.on('console', (m) => logged.push(m.text()))
    // React's default for an uncaught error, the browser's reportError: as an uncaught error.
    p.on('pageerror', (e) => logged.push(e.message))
    const visit = async (path: string) => {
      await p.goto(`${app.origin}${path}`)
      await p.waitForTimeout(100)
      const text = await p.locator('body').innerText()
      await p.goto(`${app.origin}/blank`)
      await p.evaluate(() => localStorage.removeItem('vigil.s'))
      return text
    }
    expect(await visit('/react?case=boundary')).toBe('Something went wrong')
    expect(await visit('/react?case=widget')).toMatch(/^the page\n+Something went wrong$/)
    // No boundary: React unmounts the whole tree.
    expect(await visit('/react?case=uncaught')).toBe('')
    await visit('/vue')
    await visit('/tag')
    await context.close()

    type Row = { session: string; kind: string; message: string; handled: number; outcome: string }
    const rows = await waitFor('every session ended', async () => {
      const all = (await storedEvents(collector.app.vigil.store, 'default', { release: 'fw-1.0.0' })) as unknown as Row[]
      return all.filter((r) => r.kind === 'session' && r.outcome !== 'start').length >= 5 ? all : undefined
    })
    // Per session: its errors (message, handled) and how it ended.
    const sessions = [...new Set(rows.map((r) => r.session))].map((s) => ({
      errors: rows.filter((r) => r.session === s && r.kind === 'error').map((r) => [r.message, r.handled]),
      ended: rows.find((r) => r.session === s && r.kind === 'session' && r.outcome !== 'start')?.outcome,
    }))
    // Minified: the variable's name is the bundler's.
    const mapError = /\.map is not a function/
    const find = (m: RegExp) => sessions.filter((s) => s.errors.some(([msg]) => m.test(String(msg))))
    // Boundary (fatal) and no boundary: once each, unhandled, the session crashed; the widget's boundary: handled.
    const react = find(mapError)
    expect(react.map((s) => [s.errors.length, s.errors[0]![1], s.ended]).sort()).toEqual([
      [1, 0, 'crashed'],
      [1, 0, 'crashed'],
      [1, 1, 'errored'],
    ])
    expect(find(/Cannot read properties of undefined \(reading 'length'\)/).map((s) => [s.errors.length, s.errors[0]![1], s.ended])).toEqual([[1, 0, 'crashed']])
    expect(find(/the cart could not load/).map((s) => [[...s.errors].sort(), s.ended])).toEqual([
      [
        [
          ['a tooltip could not load', 1],
          ['the cart could not load', 0],
        ].sort(),
        'crashed',
      ],
    ])
    expect(sessions.map((s) => s.errors.length).reduce((a, b) => a + b)).toBe(6)
    // The errors still reach the console (or the page's errors), as React and Vue give them without the helpers.
    expect(logged.filter((l) => mapError.test(l)).length).toBeGreaterThanOrEqual(3)
  })
})
