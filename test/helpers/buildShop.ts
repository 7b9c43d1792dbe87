import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { extname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'vite'
import webpack from 'webpack'
import { startAppServer, type Page } from './appServer.js'

export type Bundler = 'vite' | 'webpack'
export type ShopBuild = { bundler: Bundler; release: string; dir: string; html: string; scripts: string[]; maps: string[] }

const fixture = fileURLToPath(new URL('../fixtures/shop/', import.meta.url))
/** In order: each release's sources are base plus every overlay up to its own. */
const releases = ['1.0.0', '1.1.0', '1.2.0'] as const
const moduleScript = '<script type="module" src="/src/main.js"></script>'

/** Every file under `dir`, as URL paths (`/assets/index-Dqm-mHPd.js`). */
const urlPaths = async (dir: string): Promise<string[]> =>
  (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => '/' + relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort()

const viteBuild = async (root: string, outDir: string, sourcemap: boolean): Promise<void> => {
  await build({ configFile: false, logLevel: 'silent', root, build: { outDir, sourcemap, minify: true, emptyOutDir: true } })
}

/**
 * webpack has no HTML entry: it bundles src/main.js, and the page loads the entry bundle with a
 * classic deferred script, as html-webpack-plugin's default output does.
 */
const webpackBuild = async (root: string, outDir: string, sourcemap: boolean): Promise<void> => {
  const compiler = webpack({
    mode: 'production',
    context: root,
    entry: './src/main.js',
    // Explicit, so that no browserslist config or env var around the machine changes the output.
    target: 'web',
    output: { path: outDir, filename: '[name].[contenthash].js', chunkFilename: '[id].[contenthash].js', publicPath: '/' },
    devtool: sourcemap ? 'source-map' : false,
    infrastructureLogging: { level: 'none' },
  })
  const stats = await new Promise<webpack.Stats>((resolve, reject) =>
    compiler.run((err, s) => (err || !s ? reject(err ?? new Error('webpack: no stats')) : resolve(s))),
    // Closing lets webpack release its caches and file handles before the next build.
  ).finally(() => new Promise<void>((r) => compiler.close(() => r())))
  if (stats.hasErrors()) throw new Error(stats.toString({ all: false, errors: true }))
  const entry = stats.toJson({ all: false, entrypoints: true }).entrypoints?.['main']?.assets?.map((a) => a.name) ?? []
  if (entry.length !== 1) throw new Error(`webpack: expected one entry bundle, got ${entry.join(', ')}`)
  const html = await readFile(join(root, 'index.html'), 'utf8')
  if (!html.includes(moduleScript)) throw new Error('shop fixture: index.html no longer loads /src/main.js')
  await writeFile(join(outDir, 'index.html'), html.replace(moduleScript, `<script src="/${entry[0]}" defer></script>`))
}

/**
 * The shop fixture app (test/fixtures/shop) built for production, minified, by a real bundler:
 * file names carry content hashes and identifiers are renamed, as in any deployed app. Sources
 * are assembled in a temporary directory outside the repo, so that nothing of the repo (its
 * package.json, node_modules, configs) takes part in the build; it is removed afterwards.
 * A release built twice gives the same bytes, with both bundlers at their pinned versions (Vite
 * 8.4's rolldown put the sources' absolute path into its hashes: there it did not).
 */
export const buildShop = async (o: { bundler: Bundler; release: '1.0.0' | '1.1.0' | '1.2.0'; outDir: string; sourcemap: boolean }): Promise<ShopBuild> => {
  const src = await mkdtemp(join(tmpdir(), `vigil-shop-${o.release}-`))
  try {
    const layers = ['base', ...releases.slice(1, releases.indexOf(o.release) + 1)]
    for (const layer of layers) await cp(join(fixture, layer), src, { recursive: true })
    // Built into the app's own dist/, as a real project is: Vite writes each map's `sources`
    // relative to the map (`../../src/plans.js`); from an outDir elsewhere they would name the
    // random temporary directory. Then moved to outDir, replacing what was there.
    const dist = join(src, 'dist')
    await (o.bundler === 'vite' ? viteBuild : webpackBuild)(src, dist, o.sourcemap)
    await rm(o.outDir, { recursive: true, force: true })
    await cp(dist, o.outDir, { recursive: true })
  } finally {
    await rm(src, { recursive: true, force: true })
  }
  const files = await urlPaths(o.outDir)
  return {
    bundler: o.bundler,
    release: o.release,
    dir: o.outDir,
    html: await readFile(join(o.outDir, 'index.html'), 'utf8'),
    scripts: files.filter((f) => f.endsWith('.js')),
    maps: files.filter((f) => f.endsWith('.map')),
  }
}

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
}

/**
 * Serves a build the way a site would: its files, `index.html` at `/` with `inject` applied (to
 * put the agent's tag in), and the collector's paths passed through by startAppServer. A build
 * is a handful of text files, so they are read once, up front, into startAppServer's page map.
 */
export const serveDir = async (dir: string, inject: (html: string) => string, collectorUrl: string) => {
  const pages: Record<string, Page> = {}
  for (const path of await urlPaths(dir)) {
    const type = types[extname(path)]
    if (type === undefined) throw new Error(`serveDir: no content type for ${path}`)
    pages[path] = { body: await readFile(join(dir, path), 'utf8'), type }
  }
  const index = pages['/index.html']
  if (index === undefined) throw new Error(`serveDir: no index.html in ${dir}`)
  pages['/'] = pages['/index.html'] = { ...index, body: inject(index.body) }
  return startAppServer(collectorUrl, pages)
}
