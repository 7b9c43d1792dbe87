import { isIgnored, originalPositionFor, sourceContentFor, type TraceMap } from '@jridgewell/trace-mapping'
import { cleanName, unmangled } from './fingerprint.js'
import { functionAt } from './functionName.js'
import { appFrames, parseStack, type Frame } from './stack.js'

/** A parsed source map and the lines of its sources, split once. */
export type LoadedMap = { map: TraceMap; lines: (source: string) => string[] | undefined }

/** The map of a minified file of one release, by the file's URL path; undefined when there is none. */
export type MapFor = (path: string) => Promise<LoadedMap | undefined>

export type SourceLines = { /** 1-based number of the first line. */ start: number; lines: string[] }

/** A frame as a person reads it: its original place when a map has it, else the place in the stack. */
export type OriginalFrame = {
  fn: string
  file: string
  line: number
  col: number
  /** Found in a source map. */
  mapped: boolean
  /** The app's own code: served by the page's host (when known), and not a dependency bundled in. */
  inApp: boolean
  /** A few lines around it, from the map's sources content (the app's frames only). */
  context?: SourceLines
}

const CONTEXT = 2
const MAX_LINE = 200

/** `webpack://app/./src/plans.js`, `../../src/plans.js` → `src/plans.js`. */
export const sourcePath = (source: string): string =>
  source
    .replace(/^webpack:\/\/[^/]*\//, '')
    .replace(/^[a-z][\w+.-]*:\/\/\/?/i, '/')
    .replace(/^(?:\.{1,2}\/)+/, '')
    .replace(/[?#].*$/, '')

/**
 * The last three parts of a source path: enough to name a file, and the same wherever the build
 * ran (`/home/runner/work/shop/src/pages/Plans.tsx` and `/builds/x/src/pages/Plans.tsx` are one file).
 */
export const sourceKey = (source: string): string => sourcePath(source).split('/').slice(-3).join('/')

// Code bundled from dependencies and the bundler's own runtime: real frames, not the app's.
const VENDOR = /(?:^|\/)node_modules\/|^webpack\/(?:bootstrap|runtime)|^\(webpack\)|^vite\/|^\0|rolldown:runtime/

const clip = (line: string) => (line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line)

type Original = { source: string; line: number; column: number; name: string | null; map: LoadedMap }

/**
 * Where a frame's map puts it, if the release has a map for its file. Reading the map may throw
 * (storage away: the caller decides); a lookup in it does not: a frame it cannot place stays
 * where the stack says.
 */
const place = async (frame: Frame, mapFor: MapFor): Promise<Original | undefined> => {
  if (!(frame.line > 0 && frame.col >= 0 && Number.isSafeInteger(frame.line) && Number.isSafeInteger(frame.col))) return undefined
  const loaded = await mapFor(frame.path)
  if (!loaded) return undefined
  try {
    const o = originalPositionFor(loaded.map, { line: frame.line, column: Math.max(0, frame.col - 1) })
    return typeof o.source === 'string' ? { source: o.source, line: o.line, column: o.column, name: typeof o.name === 'string' ? o.name : null, map: loaded } : undefined
  } catch {
    return undefined
  }
}

const isVendor = (o: Original) => {
  try {
    return VENDOR.test(o.source) || isIgnored(o.map.map, o.source)
  } catch {
    return false
  }
}

/**
 * The stack's frames with their original places. A mapped frame's function is named, first, by
 * the source around it when the map has the sources (functionAt); else by its caller: the name a
 * map gives at the caller's call site is the original name of what it called (`at n
 * (index-Dqm.js:1:786)` called from `renderPlans(…)` is renderPlans); else by the engine, without
 * the minifier's names (`o.total` → `total`).
 */
export const symbolicate = async (stack: string, pageUrl: string, mapFor: MapFor): Promise<OriginalFrame[]> => {
  const frames = parseStack(stack)
  const own = new Set(appFrames(frames, pageUrl))
  const placed = await Promise.all(frames.map(async (frame) => ({ frame, original: await place(frame, mapFor) })))
  return placed.map(({ frame, original }, i): OriginalFrame => {
    if (!original) return { fn: cleanName(frame.fn), file: frame.url, line: frame.line, col: frame.col, mapped: false, inApp: own.has(frame) }
    const inApp = own.has(frame) && !isVendor(original)
    const lines = inApp ? original.map.lines(original.source) : undefined
    const first = Math.max(1, original.line - CONTEXT)
    const engine = cleanName(frame.fn)
    return {
      fn: (lines && functionAt(lines, original.line, original.column + 1)) ?? placed[i + 1]?.original?.name ?? (unmangled(engine) || engine),
      file: sourcePath(original.source),
      line: original.line,
      col: original.column + 1,
      mapped: true,
      inApp,
      ...(lines && lines.length >= original.line ? { context: { start: first, lines: lines.slice(first - 1, original.line + CONTEXT).map(clip) } } : {}),
    }
  })
}

/**
 * What groups an error by its original source (see `mappedFingerprint`): the first of the app's
 * frames (appFrames) that maps to the app's own code, dependencies bundled in skipped
 * (node_modules, the map's ignore list, the bundler's runtime) — its file, and its line of code
 * when the map has the sources. Undefined when an app frame above it has no map: then the error
 * keeps the group its stack gives. Maps are read no further down than that frame.
 */
export const groupingSource = async (stack: string, pageUrl: string, mapFor: MapFor): Promise<{ file: string; code: string } | undefined> => {
  for (const frame of appFrames(parseStack(stack), pageUrl)) {
    const original = await place(frame, mapFor)
    if (!original) return undefined
    if (isVendor(original)) continue
    return { file: sourceKey(original.source), code: original.map.lines(original.source)?.[original.line - 1] ?? '' }
  }
  return undefined
}
