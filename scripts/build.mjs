// Builds what `npm start` serves and runs: the agent (script-tag IIFE and ESM), the dashboard
// bundle, and the collector. `node scripts/build.mjs` or `import { build } from …`.
import { execFile } from 'node:child_process'
import { copyFile, mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'
import { minify } from 'terser'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')

/** Types for the ESM build: dist/agent/types/index.d.ts. */
const declarations = () =>
  new Promise((resolve, reject) => {
    const tsc = join(root, 'node_modules/typescript/bin/tsc')
    execFile(
      process.execPath,
      [tsc, '-p', join(root, 'agent/tsconfig.json'), '--noEmit', 'false', '--declaration', '--emitDeclarationOnly', '--outDir', join(dist, 'agent/types')],
      (err, stdout, stderr) => (err ? reject(new Error(`agent declarations: ${stdout}${stderr}`)) : resolve(undefined)),
    )
  })

/**
 * An agent file: esbuild bundles (and renames `_`-prefixed internals), terser minifies — it
 * packs this code ~6% smaller after gzip than esbuild's own minifier does.
 */
const agentFile = async (entry, format, out, o = {}) => {
  const r = await esbuild.build({
    entryPoints: [join(root, 'agent/src', entry)],
    bundle: true,
    format,
    ...o,
    // Object spread (ES2018) and optional catch binding (ES2019): Chrome 66, Safari 11.1, Firefox 58.
    target: 'es2019',
    legalComments: 'none',
    logLevel: 'warning',
    write: false,
    mangleProps: /^_/,
    // Module code is strict already; the directive is bytes.
    tsconfigRaw: { compilerOptions: { alwaysStrict: false } },
  })
  const min = await minify(r.outputFiles[0].text, {
    ecma: 2019,
    module: format === 'esm',
    compress: { passes: 3, unsafe_arrows: true, pure_getters: true },
    mangle: { toplevel: true },
  })
  await mkdir(join(dist, 'agent'), { recursive: true })
  await writeFile(join(dist, 'agent', out), min.code)
}

/**
 * The framework helpers import the core from the ES module beside them (`./vigil.mjs`, the one
 * the app imports too: one agent), and React from the app.
 */
const helpers = {
  external: ['react'],
  plugins: [{ name: 'core', setup: (b) => b.onResolve({ filter: /^\.\/(index|report)$/ }, (a) => ({ path: a.path === './index' ? './vigil.mjs' : './report.mjs', external: true })) }],
}

/** The agent files, all `npm run size` needs: the core (script tag and ES module), the web vitals, the framework helpers. */
export const buildAgent = () =>
  Promise.all([
    agentFile('tag.ts', 'iife', 'vigil.js'),
    agentFile('index.ts', 'esm', 'vigil.mjs'),
    agentFile('vitals.ts', 'iife', 'vitals.js'),
    ...['report', 'react', 'vue'].map((h) => agentFile(`${h}.ts`, 'esm', `${h}.mjs`, helpers)),
  ])

export const build = async () => {
  await Promise.all([
    buildAgent(),
    declarations(),
    esbuild.build({
      entryPoints: [join(root, 'dashboards/src/main.ts')],
      bundle: true,
      minify: true,
      format: 'esm',
      target: 'es2020',
      logLevel: 'warning',
      outfile: join(dist, 'dashboard/app.js'),
    }),
    // The page's styles with uPlot's, in one file.
    esbuild.build({
      entryPoints: [join(root, 'dashboards/src/app.css')],
      bundle: true,
      minify: true,
      logLevel: 'warning',
      outfile: join(dist, 'dashboard/app.css'),
    }),
    esbuild.build({
      entryPoints: [join(root, 'collector/src/cli/main.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      logLevel: 'warning',
      outfile: join(dist, 'cli/vigil.js'),
    }),
    esbuild.build({
      entryPoints: [join(root, 'collector/src/main.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      sourcemap: true,
      logLevel: 'warning',
      outfile: join(dist, 'collector/main.js'),
    }),
  ])
  await mkdir(join(dist, 'dashboard'), { recursive: true })
  await copyFile(join(root, 'dashboards/src/index.html'), join(dist, 'dashboard/index.html'))
  await copyFile(join(root, 'dashboards/src/login.html'), join(dist, 'dashboard/login.html'))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await build()
