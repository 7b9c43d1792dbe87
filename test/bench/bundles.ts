// Minified bundles with source maps, built by esbuild for the ingest bench: each asset a few
// dozen modules of app-like code, so its map is the size of a real chunk's (hundreds of KB, with
// sources content), and positions in it that map to original code, for stacks that point there.
import * as esbuild from 'esbuild'
import { eachMapping, TraceMap } from '@jridgewell/trace-mapping'
import { makeRng } from './rng.js'

export type Bundle = { asset: string; map: string; positions: [line: number, col: number][] }

const module = (random: () => number, asset: string, m: number) => {
  const fns = 20 + Math.floor(random() * 20)
  const body = Array.from(
    { length: fns },
    (_, i) => `export function ${asset.replace(/\W/g, '_')}_${m}_${i}(state, action) {
  const items = (state.items || []).filter((item) => item.id !== action.id && item.kind === '${['plan', 'track', 'order'][i % 3]}')
  if (action.type === 'reset') return { ...state, items: [], total: 0 }
  const total = items.reduce((sum, item) => sum + item.price * (item.quantity || 1), ${i})
  return { ...state, items: items.map((item) => ({ ...item, seen: true })), total, label: \`\${items.length} items\` }
}`,
  )
  return body.join('\n\n')
}

/** One bundle per asset name; `modules` per bundle. */
export const makeBundles = async (assets: string[], modules = 24, seed = 20261130): Promise<Bundle[]> => {
  const random = makeRng(seed, 'bundles').next
  return Promise.all(
    assets.map(async (asset) => {
      const files = Array.from({ length: modules }, (_, m) => `src/${asset.split(/[-.]/)[0]}/module${m}.ts`)
      const sources = new Map(files.map((f, m) => [f, module(random, asset, m)]))
      const out = await esbuild.build({
        stdin: { contents: files.map((f, m) => `export * as m${m} from './${f}'`).join('\n'), resolveDir: '/', sourcefile: 'src/entry.ts', loader: 'ts' },
        bundle: true,
        minify: true,
        format: 'esm',
        sourcemap: 'external',
        sourcesContent: true,
        outfile: `/${asset}`,
        write: false,
        logLevel: 'silent',
        plugins: [
          {
            name: 'virtual',
            setup: (b) => {
              b.onResolve({ filter: /^\.\/src\// }, (a) => ({ path: a.path.slice(2), namespace: 'virtual' }))
              b.onLoad({ filter: /.*/, namespace: 'virtual' }, (a) => ({ contents: sources.get(a.path)!, loader: 'ts' }))
            },
          },
        ],
      })
      const map = out.outputFiles.find((f) => f.path.endsWith('.map'))!.text
      const positions: [number, number][] = []
      eachMapping(new TraceMap(map), (m) => {
        if (m.source !== null && random() < 0.05) positions.push([m.generatedLine, m.generatedColumn + 1])
      })
      return { asset, map, positions }
    }),
  )
}
