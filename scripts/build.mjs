// Builds what `npm start` serves and runs: the agent (script-tag IIFE and ESM), the dashboard
// bundle, and the collector. `node scripts/build.mjs` or `import { build } from …`.
import { copyFile, mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')

export const build = async () => {
  const agent = {
    bundle: true,
    minify: true,
    target: 'es2018',
    legalComments: 'none',
    logLevel: 'warning',
    // `_`-prefixed internals can be renamed by the minifier.
    mangleProps: /^_/,
  }
  await Promise.all([
    esbuild.build({ ...agent, entryPoints: [join(root, 'agent/src/tag.ts')], format: 'iife', outfile: join(dist, 'agent/vigil.js') }),
    esbuild.build({ ...agent, entryPoints: [join(root, 'agent/src/index.ts')], format: 'esm', outfile: join(dist, 'agent/vigil.mjs') }),
    esbuild.build({
      entryPoints: [join(root, 'dashboards/src/main.ts')],
      bundle: true,
      minify: true,
      format: 'esm',
      target: 'es2020',
      logLevel: 'warning',
      outfile: join(dist, 'dashboard/app.js'),
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
  await copyFile(join(root, 'dashboards/src/app.css'), join(dist, 'dashboard/app.css'))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await build()
