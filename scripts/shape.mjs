// The shape the code keeps (issue 12): no source file over MAX_FILE_LINES lines, no function over
// MAX_FUNCTION_LINES lines of its own (the functions inside it are measured on their own), no import cycle — in collector/src, agent/src and dashboards/src.
// Prints what is past the limits and exits 1 when anything is. `--all` lists every function over
// half the limit, longest first.
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'

const MAX_FILE_LINES = 300
const MAX_FUNCTION_LINES = 60
const ROOTS = ['collector/src', 'agent/src', 'dashboards/src']
const root = resolve(dirname(new URL(import.meta.url).pathname), '..')

const sources = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : /\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : [],
  )
const files = ROOTS.flatMap((r) => sources(join(root, r)))
const problems = []
const long = []
const imports = new Map()

for (const file of files) {
  const text = readFileSync(file, 'utf8')
  const name = relative(root, file)
  const lines = text.split('\n').length
  if (lines > MAX_FILE_LINES) problems.push(`${name}: ${lines} lines (at most ${MAX_FILE_LINES})`)
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
  const lineOf = (pos) => sf.getLineAndCharacterOfPosition(pos).line
  const span = (fn) => lineOf(fn.body.getEnd()) - lineOf(fn.body.getStart(sf)) + 1
  const isFunction = (node) => ts.isFunctionLike(node) && 'body' in node && node.body !== undefined
  // The functions directly inside `node` (not inside one of them).
  const inner = (node) => {
    const found = []
    const look = (n) => {
      // forEachChild stops at a truthy return: return nothing.
      if (isFunction(n)) found.push(n)
      else ts.forEachChild(n, look)
    }
    ts.forEachChild(node.body, look)
    return found
  }
  const nameOf = (node) =>
    node.name?.getText(sf) ??
    (ts.isVariableDeclaration(node.parent) || ts.isPropertyAssignment(node.parent) ? node.parent.name.getText(sf) : '(anonymous)')
  const visit = (node) => {
    if (isFunction(node)) {
      // A function's own lines: those of the functions inside it count for them, not for it (a
      // factory is its wiring; each of its closures is measured on its own).
      const nested = inner(node)
      const n = span(node) - nested.reduce((t, f) => t + span(f), 0)
      const what = `${name}:${lineOf(node.getStart(sf)) + 1} ${nameOf(node)}`
      if (n > MAX_FUNCTION_LINES) problems.push(`${what}: ${n} lines of its own (at most ${MAX_FUNCTION_LINES})`)
      if (n > MAX_FUNCTION_LINES / 2) long.push([n, what])
    }
    ts.forEachChild(node, visit)
  }
  visit(sf)
  const deps = ts
    .preProcessFile(text, true, true)
    .importedFiles.map((f) => f.fileName)
    .filter((f) => f.startsWith('.'))
    .map((f) => resolve(dirname(file), f).replace(/\.js$/, '.ts'))
  imports.set(file, deps.filter((d) => files.includes(d)))
}

// Import cycles: a depth-first walk; a file met again while still on the path closes a cycle.
const state = new Map()
const path = []
const walk = (file) => {
  state.set(file, 'open')
  path.push(file)
  for (const d of imports.get(file) ?? []) {
    if (state.get(d) === 'open') problems.push(`import cycle: ${[...path.slice(path.indexOf(d)), d].map((f) => relative(root, f)).join(' → ')}`)
    else if (!state.has(d)) walk(d)
  }
  path.pop()
  state.set(file, 'done')
}
for (const f of files) if (!state.has(f)) walk(f)

if (process.argv.includes('--all')) for (const [n, what] of long.sort((a, b) => b[0] - a[0])) console.log(`${String(n).padStart(4)} ${what}`)
for (const p of problems) console.log(p)
console.log(problems.length ? `shape: ${problems.length} problem(s)` : `shape: ${files.length} files within ${MAX_FILE_LINES} lines, functions within ${MAX_FUNCTION_LINES}, no import cycle`)
process.exit(problems.length ? 1 : 0)
