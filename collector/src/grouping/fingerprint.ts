import { createHash } from 'node:crypto'
import { memo } from '../lib/memo.js'

/**
 * Error grouping. A group must be stable across releases (so "first seen in this release" is
 * true): the key leaves out what changes between builds and between occurrences — line and column
 * numbers, content hashes in file names, numbers, ids and URLs in messages.
 */

const VOLATILE: [RegExp, string][] = [
  [/\b[a-z][a-z0-9+.-]*:\/\/[^\s'"`)]+/gi, '<url>'],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>'],
  // hashes and hex ids: 8+ hex digits with at least one digit
  [/\b(?:0x)?(?=[0-9a-f]*\d)[0-9a-f]{8,}\b/gi, '<hex>'],
  [/\b\d+(?:\.\d+)?\b/g, '<n>'],
]

/** The message with its volatile parts replaced by placeholders. */
export const normaliseMessage = (message: string): string => {
  let m = message
  for (const [re, by] of VOLATILE) m = m.replace(re, by)
  return m.replace(/\s+/g, ' ').trim().slice(0, 500)
}

export type Frame = { fn: string; file: string; host: string }

// Chrome/Node: "    at fn (https://x/app.3f9a1c.js:10:5)" or "    at https://x/app.js:10:5"
const V8 = /^\s*at (?:(.+?) \()?(.*?):\d+:\d+\)?\s*$/
// Firefox/Safari: "fn@https://x/app.js:10:5"
const GECKO = /^\s*(.*?)@(.*?):\d+:\d+\s*$/

const hostOf = (url: string): string => /^[a-z][\w+.-]*:\/\/([^/?#]*)/i.exec(url)?.[1] ?? ''

/** File name without directory, query, or content hash (`app.3f9a1c2b.js` → `app.js`). */
const baseName = (url: string): string => {
  const path = url.split(/[?#]/)[0] ?? ''
  const name = path.slice(path.lastIndexOf('/') + 1)
  return name.replace(/[.-][0-9a-f]{6,}(?=\.)/gi, '')
}

export const parseStack = (stack: string): Frame[] => {
  const frames: Frame[] = []
  for (const line of stack.split('\n')) {
    const m = V8.exec(line) ?? GECKO.exec(line)
    if (!m) continue
    const file = m[2] ?? ''
    // Frames of browser extensions are not the app's.
    if (/^(?:chrome|moz|safari(?:-web)?)-extension:/.test(file)) continue
    frames.push({ fn: (m[1] ?? '').trim() || '?', file: baseName(file), host: hostOf(file) })
  }
  return frames
}

/** Without remembering: see `fingerprint`. */
const computeFingerprint = (type: string, message: string, stack: string, pageUrl: string): string => {
  const host = hostOf(pageUrl)
  const frames = parseStack(stack)
  const inApp = host ? frames.filter((f) => f.host === host) : []
  const top = (inApp.length > 0 ? inApp : frames)
    .slice(0, 3)
    .map((f) => `${f.file}:${f.fn}`)
  return createHash('sha256')
    .update([type, normaliseMessage(message), ...top].join('\n'))
    .digest('hex')
    .slice(0, 16)
}

// The same error arrives many times: its group is computed once (keyed by a JSON array, which
// separates the parts unambiguously whatever characters they hold).
const remembered = memo(computeFingerprint, 5000, (type, message, stack, pageUrl) => JSON.stringify([type, message, hostOf(pageUrl), stack]))

/**
 * 16 hex characters naming the error group: the type, the normalised message, and the top three
 * in-app frames — frames served from the page's own host when the page URL is known and any
 * frame is (a CDN's or a vendor's frames above them do not split or merge groups), else the top
 * frames as they come.
 */
export const fingerprint = (type: string, message: string, stack: string, pageUrl = ''): string => remembered(type, message, stack, pageUrl)
