import { memo } from '../lib/memo.js'

/**
 * An error message with what changes between occurrences and between builds replaced by
 * placeholders: URLs, uuids, hex ids and hashes, numbers, and the minifier's short names in the
 * engines' own messages (`e.map is not a function` in one build is `t.map is not a function` in
 * the next). Only the group key uses this; the message shown is the one sent.
 */
const VOLATILE: [RegExp, string][] = [
  [/\b[a-z][a-z0-9+.-]*:\/\/[^\s'"`)]+/gi, '<url>'],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>'],
  // hashes and hex ids: 8+ hex digits with at least one digit
  [/\b(?:0x)?(?=[0-9a-f]*\d)[0-9a-f]{8,}\b/gi, '<hex>'],
  // A numbered error names its kind: "Minified React error #418" is not #423.
  [/(?<!#)\b\d+(?:\.\d+)?\b/g, '<n>'],
  // Names of one to three characters where the engines quote code: V8 `e.map is not a function`,
  // `t is not defined`, `Cannot access 'n' before initialization`; Firefox `can't access
  // property "map", e is undefined`; Safari `undefined is not an object (evaluating 'e.map')`,
  // `Can't find variable: e`.
  [/(^|[^\w$.])[A-Za-z_$][\w$]{0,2}(?=[.[(])/g, '$1<id>'],
  [/(^|[\s'"(,])[A-Za-z_$][\w$]{0,2}(?= is (?:not|undefined|null)\b)/g, '$1<id>'],
  [/(access '|declaration '|variable: |evaluating ')[A-Za-z_$][\w$]{0,2}(?=[.'[(]|$)/g, '$1<id>'],
]

// Safari quotes the code that failed, minified names and all: every short name in it.
const shortNames = (code: string) => code.replace(/(^|[^\w$.])[A-Za-z_$][\w$]{0,2}(?![\w$])/g, '$1<id>')

/** Without remembering: see `normaliseMessage`. */
const normalise = (message: string): string => {
  let m = message.replace(/(evaluating |In )'([^']*)'/g, (_, by: string, code: string) => `${by}'${shortNames(code)}'`)
  for (const [re, by] of VOLATILE) m = m.replace(re, by)
  return m.replace(/\s+/g, ' ').trim().slice(0, 500)
}

// The same messages come again and again: each is normalised once.
export const normaliseMessage = memo(normalise, 5000)
