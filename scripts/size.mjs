// Prints raw, gzip (-9) and brotli sizes of the built agent, and fails past budget.
// Bytes are a feature: the agent must stay a small fraction of the smallest peer's.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import { buildAgent } from './build.mjs'

await buildAgent()

const dist = join(dirname(fileURLToPath(import.meta.url)), '../dist/agent')
// The framework helpers are separate files an app imports beside the core: printed, no budget.
const budgets = { 'vigil.js': 3072, 'vitals.js': 4096, 'vigil.mjs': undefined, 'report.mjs': undefined, 'react.mjs': undefined, 'vue.mjs': undefined }

let over = false
console.log('file          raw    gzip  brotli  budget (gzip)')
for (const [file, budget] of Object.entries(budgets)) {
  const b = readFileSync(join(dist, file))
  const gz = gzipSync(b, { level: 9 }).length
  const br = brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length
  const verdict = budget === undefined ? '' : gz <= budget ? `${budget} ok` : `${budget} OVER by ${gz - budget}`
  if (budget !== undefined && gz > budget) over = true
  console.log(`${file.padEnd(12)} ${String(b.length).padStart(5)} ${String(gz).padStart(7)} ${String(br).padStart(7)}  ${verdict}`)
}
if (over) {
  console.error('agent size budget exceeded')
  process.exit(1)
}
