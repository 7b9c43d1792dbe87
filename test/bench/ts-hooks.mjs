// Module hooks for register.mjs: `./x.js` imported from a .ts file resolves to `./x.ts` when
// only that exists, and .ts files are loaded through esbuild's transform (types removed).
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { transform } from 'esbuild'

export const resolve = async (specifier, context, nextResolve) => {
  try {
    return await nextResolve(specifier, context)
  } catch (err) {
    const fromTs = context.parentURL?.startsWith('file:') && context.parentURL.endsWith('.ts')
    if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !fromTs || !/^\.{1,2}\//.test(specifier) || !specifier.endsWith('.js')) throw err
    return nextResolve(specifier.slice(0, -3) + '.ts', context)
  }
}

export const load = async (url, context, nextLoad) => {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context)
  const path = fileURLToPath(url)
  const { code } = await transform(await readFile(path, 'utf8'), {
    loader: 'ts',
    format: 'esm',
    target: 'node20',
    sourcefile: path,
    sourcemap: 'inline',
  })
  return { format: 'module', source: code, shortCircuit: true }
}
