/**
 * The function around a place in original source, read off the source's lines: source maps name
 * tokens, not scopes, and minified stacks name functions `n`. The nearest header above the place
 * at a shallower indentation — `function renderPlans(`, `const Plans = (…) =>`, a method `total()
 * {` (with its class: `Checkout.total`), `onSave: async () =>` — names it. A place inside an
 * inline callback on its own line (`() => handler(out)`) is anonymous: undefined, and the
 * engine's or the caller's name is used instead. A heuristic for readable code, for people only:
 * no group depends on it.
 */
const KEYWORDS = new Set(['if', 'for', 'while', 'switch', 'catch', 'with', 'return', 'function', 'constructor'])

const HEADERS: RegExp[] = [
  /\bfunction\s*\*?\s*([\w$]+)\s*[<(]/,
  /\b(?:const|let|var)\s+([\w$]+)\s*(?::[^=]+)?=\s*(?:async\s+)?(?:function\b|(?:\([^)]*\)|[\w$]+)\s*(?::[^=]+)?=>)/,
  /([\w$]+)\s*:\s*(?:async\s+)?(?:function\b|(?:\([^)]*\)|[\w$]+)\s*=>)/,
]
// A method in a class body: `total() {`, `async load(id: string): Promise<void> {`, `static get x() {`.
const METHOD = /^\s*(?:(?:public|private|protected|static|async|override|readonly|get|set)\s+)*\*?#?([\w$]+)\s*(?:<[^>]*>)?\([^)]*\)\s*(?::[^{]+)?\{/
const CLASS = /\bclass\s+([\w$]+)/

const indentOf = (s: string) => /^\s*/.exec(s)![0].length

const header = (s: string): { name: string; method: boolean } | undefined => {
  for (const re of HEADERS) {
    const m = re.exec(s)
    if (m && !KEYWORDS.has(m[1]!)) return { name: m[1]!, method: false }
  }
  const m = METHOD.exec(s)
  if (m && !KEYWORDS.has(m[1]!)) return { name: m[1]!, method: true }
  return undefined
}

/** `line` 1-based, `col` 1-based, as frames give them. */
export const functionAt = (lines: string[], line: number, col: number): string | undefined => {
  const at = lines[line - 1]
  if (at === undefined) return undefined
  const before = at.slice(0, Math.max(0, col - 1))
  const own = header(before)
  if (own) return own.name
  if (/=>|\bfunction\s*\(/.test(before)) return undefined
  let indent = indentOf(at)
  for (let l = line - 1; l >= 1 && l >= line - 500 && indent > 0; l--) {
    const s = lines[l - 1]!
    if (!s.trim() || indentOf(s) >= indent) continue
    indent = indentOf(s)
    const h = header(s)
    if (!h) continue
    if (!h.method) return h.name
    for (let c = l - 1; c >= 1 && c >= l - 2000; c--) {
      const k = lines[c - 1]!
      if (k.trim() && indentOf(k) < indent) return `${CLASS.exec(k)?.[1] ?? '?'}.${h.name}`
    }
    return h.name
  }
  return undefined
}
