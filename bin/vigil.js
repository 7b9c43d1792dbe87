#!/usr/bin/env node
// `npx vigil …` — the CLI lives in collector/src/cli and is built to dist/ (npm run build).
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const built = join(root, 'dist/cli/vigil.js')
if (!existsSync(built)) await (await import(pathToFileURL(join(root, 'scripts/build.mjs')).href)).build()
await (await import(pathToFileURL(built).href)).main()
