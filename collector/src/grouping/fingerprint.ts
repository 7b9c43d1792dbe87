import { createHash } from 'node:crypto'
import { memo } from '../lib/memo.js'
import { fileNameOf, stableFileName } from './fileName.js'
import { normaliseMessage } from './message.js'
import { appFrames, hostOf, parseStack } from './stack.js'

/** A function's name without what engines add to it: `async `, `new `, ` [as alias]`, Firefox's `/<`. */
export const cleanName = (fn: string): string =>
  fn
    .replace(/^(?:async |new )+/, '')
    .replace(/ \[as [^\]]*\]$/, '')
    .replace(/(?:\/<|<)+$/, '')

// What minifiers name things: one to three characters (`n`, `Ae`, `$t`; a bundle with thousands
// of names in one scope gets to `spn`, `g9n`). A real name that short is treated the same; it only
// makes its group a little coarser.
const MANGLED = /^[A-Za-z_$][\w$]{0,2}$/

/** The parts of a name a minifier leaves alone: `r.total` → `total`, `Module.e` → `Module`, `n` → ''. */
export const unmangled = (fn: string): string =>
  cleanName(fn)
    .split('.')
    .filter((part) => !MANGLED.test(part))
    .join('.')

const key = (parts: string[]) => createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 16)

/** Without remembering: see `fingerprint`. */
const compute = (type: string, message: string, stack: string, pageUrl: string): string => {
  const frames = appFrames(parseStack(stack), pageUrl).slice(0, 3)
  // Minified code: the top frame's file alone. Minifiers inline functions by what else is in the
  // bundle, so the frames under the top one come and go between builds of the same code, and
  // the top one's name with them (a function inlined into `n` one build is `plans` the next).
  // Minified: a name among the frames is the minifier's, or the file is a build's (hashed, .min).
  const top = frames[0]
  const built = !!top && (stableFileName(top.path) !== fileNameOf(top.path) || /\.min\.[cm]?js$/i.test(top.path))
  const minified = built || frames.some((f) => !cleanName(f.fn) || unmangled(f.fn) !== cleanName(f.fn))
  const parts = minified ? frames.slice(0, 1).map((f) => stableFileName(f.path)) : frames.map((f) => `${stableFileName(f.path)}:${cleanName(f.fn)}`)
  return key(['stack', type, normaliseMessage(message), ...parts])
}

// The same error arrives many times: its group is computed once (keyed by a JSON array, which
// separates the parts unambiguously whatever characters they hold).
const remembered = memo(compute, 5000, (type, message, stack, pageUrl) => JSON.stringify([type, message, hostOf(pageUrl), stack]))

/**
 * The error's group as its stack shows it, stable from build to build of the same code: 16 hex
 * characters over the type, the message without its volatile parts (normaliseMessage), and the
 * app's top frames (appFrames) as file names without content hashes (stableFileName) — no line or
 * column: for readable code, three frames with their functions; for minified code (a file with a
 * content hash or `.min`, or a name among the frames the minifier's), the top frame's file alone.
 * Computed at intake for every error; a release with source maps regroups its errors by
 * `mappedFingerprint` when they are stored.
 */
export const fingerprint = (type: string, message: string, stack: string, pageUrl = ''): string => remembered(type, message, stack, pageUrl)

/**
 * The group of an error whose top frame of the app's own code maps to its original source: the
 * type, the normalised message, that source file and the line of code there (from the map's
 * sources content; the line's number is left out, it moves when code above it changes). Two
 * different bugs with the same message in one bundle are two groups; the same bug stays one
 * however the bundler renames and inlines around it.
 */
export const mappedFingerprint = (type: string, message: string, source: string, code: string): string =>
  key(['source', type, normaliseMessage(message), source, code.replace(/\s+/g, ' ').trim().slice(0, 300)])
