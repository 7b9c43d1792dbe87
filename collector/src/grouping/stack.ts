/** One line of a stack trace. Frames without a position (`at Array.map (<anonymous>)`, `[native code]`) have `line` 0. */
export type Frame = {
  /** The function as the engine names it (`renderPlans`, `r.total`, `HTMLButtonElement.<anonymous>`); '' when anonymous. */
  fn: string
  /** The script's URL as the stack gives it. */
  url: string
  /** The URL's host ('' for a path or a non-URL). */
  host: string
  /** The URL's path without query or fragment: `/assets/index-Dqm-mHPd.js`. */
  path: string
  line: number
  /** 1-based, as engines print it. */
  col: number
}

// A frame's place, at the end of what it says: `https://x/app.js:10:5`. Anchored at the end and
// bounded, so a hostile line costs its length once (no backtracking across it).
const PLACE = /:(\d{1,10}):(\d{1,10})$/
/** Longer than this, a line is not a frame a stack holds (nor worth reading). */
const MAX_FRAME = 2000

const locate = (url: string): { host: string; path: string } => {
  const m = /^[a-z][\w+.-]*:\/\/([^/?#]*)([^?#]*)/i.exec(url)
  if (m) return { host: m[1] ?? '', path: m[2] || '/' }
  return { host: '', path: url.split(/[?#]/)[0] ?? '' }
}

/** The host of a URL, '' for what is not one. */
export const hostOf = (url: string): string => locate(url).host

/** The path of a URL without query or fragment (`/` for none); what is not a URL, without its query. */
export const pathOf = (url: string): string => locate(url).path

const frame = (fn: string, url: string, line?: string, col?: string): Frame => ({ fn: fn.trim(), url, ...locate(url), line: Number(line ?? 0), col: Number(col ?? 0) })

/** `url:line:col` (or a place without a position: `<anonymous>`, `native`) as a frame of `fn`. */
const placed = (fn: string, where: string): Frame => {
  const p = PLACE.exec(where)
  return p ? frame(fn, where.slice(0, p.index), p[1], p[2]) : frame(fn, where)
}

/**
 * One line as a frame, or undefined for what is not one (the message, an extension's frame).
 * Chrome, Edge, Node: `at fn (https://x/app.js:10:5)`, `at https://x/app.js:10:5`, `at
 * Array.map (<anonymous>)`; Firefox, Safari: `fn@https://x/app.js:10:5`, `@https://…`,
 * `fn@[native code]`. Read with string operations and one end-anchored match.
 */
const frameOf = (raw: string): Frame | undefined => {
  if (raw.length > MAX_FRAME) return undefined
  const line = raw.trim()
  let f: Frame | undefined
  if (line.startsWith('at ')) {
    const rest = line.slice(3)
    const open = rest.endsWith(')') ? rest.lastIndexOf(' (') : -1
    f = open >= 0 ? placed(rest.slice(0, open), rest.slice(open + 2, -1)) : placed('', rest)
  } else {
    const at = line.indexOf('@')
    if (at >= 0) {
      const g = placed(line.slice(0, at).replace(/^async\*/, ''), line.slice(at + 1))
      // A message line may hold an '@' too: a frame has a position, a URL or is native.
      if (g.line > 0 || /:\/\/|^\[native code\]$/.test(g.url)) f = g
    }
  }
  return f && !/^(?:chrome|moz|safari(?:-web)?)-extension:/.test(f.url) ? f : undefined
}

/**
 * The frames of a stack, newest first, as Chrome, Firefox, Safari and Node print them. Frames in
 * browser extensions are left out: they are not the app's.
 */
export const parseStack = (stack: string): Frame[] => stack.split('\n').flatMap((line) => frameOf(line) ?? [])

/**
 * The app's own frames: those with a position served from the page's host, when the page's URL is
 * known and any frame is (a CDN's or a vendor's frames do not count); else every frame with a
 * position.
 */
export const appFrames = (frames: Frame[], pageUrl: string): Frame[] => {
  const placed = frames.filter((f) => f.line > 0)
  const host = locate(pageUrl).host
  const own = host ? placed.filter((f) => f.host === host) : []
  return own.length > 0 ? own : placed
}
