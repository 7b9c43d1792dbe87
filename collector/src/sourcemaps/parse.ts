import { AnyMap, decodedMappings, sourceContentFor, type TraceMap } from '@jridgewell/trace-mapping'
import { InvalidSourceMapError } from '../errors.js'
import type { LoadedMap } from '../grouping/symbolicate.js'

const isInt = (x: unknown): x is number => Number.isInteger(x)

/**
 * What trace-mapping takes as it is and later trips on: every source a string (or null), every
 * source content a string (or null), names strings, the ignore list source indexes, and every
 * mapping within its sources and names. Checked once, at upload: a map that passes is one whose
 * lookups do not throw.
 */
const check = (map: TraceMap) => {
  const sources = map.resolvedSources.length
  if (!map.resolvedSources.every((s) => typeof s === 'string' || s === null)) throw new InvalidSourceMapError('"sources" holds something that is not a string')
  if (map.sourcesContent != null && (!Array.isArray(map.sourcesContent) || !map.sourcesContent.every((c) => typeof c === 'string' || c === null)))
    throw new InvalidSourceMapError('"sourcesContent" holds something that is not a string')
  if (!Array.isArray(map.names) || !map.names.every((n) => typeof n === 'string')) throw new InvalidSourceMapError('"names" holds something that is not a string')
  if (map.ignoreList != null && (!Array.isArray(map.ignoreList) || !map.ignoreList.every((i) => isInt(i) && i >= 0 && i < sources)))
    throw new InvalidSourceMapError('"ignoreList" is not a list of source indexes')
  const names = map.names.length
  for (const line of decodedMappings(map)) {
    for (const seg of line) {
      if (seg.length === 1) continue
      const [, source, l, c, name] = seg as number[]
      if (!(isInt(source) && source >= 0 && source < sources && isInt(l) && l >= 0 && isInt(c) && c >= 0))
        throw new InvalidSourceMapError('a mapping points outside "sources" or before its first line')
      if (seg.length === 5 && !(isInt(name) && name >= 0 && name < names)) throw new InvalidSourceMapError('a mapping names outside "names"')
    }
  }
}

/**
 * A source map, checked: JSON, version 3, sources, mappings (or an index map's sections),
 * mappings that decode, and nothing in it that a lookup would trip on (check). Parsed and
 * decoded by @jridgewell/trace-mapping.
 */
export const parseSourceMap = (text: string): TraceMap => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new InvalidSourceMapError(`not JSON: ${(err as Error).message}`)
  }
  const m = json as { version?: unknown; sources?: unknown; mappings?: unknown; sections?: unknown } | null
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new InvalidSourceMapError('not a JSON object')
  if (m.version !== 3) throw new InvalidSourceMapError(`version is ${JSON.stringify(m.version)}, not 3`)
  if (!Array.isArray(m.sections) && (!Array.isArray(m.sources) || typeof m.mappings !== 'string')) throw new InvalidSourceMapError('no "sources" array and "mappings" string (nor "sections")')
  let map: TraceMap
  try {
    map = new AnyMap(m as ConstructorParameters<typeof AnyMap>[0])
    decodedMappings(map)
  } catch (err) {
    throw new InvalidSourceMapError(`does not decode: ${(err as Error).message}`)
  }
  check(map)
  return map
}

/** A parsed map whose sources' lines are split once, when first asked for. */
export const loadedMap = (map: TraceMap): LoadedMap => {
  const split = new Map<string, string[] | undefined>()
  return {
    map,
    lines: (source) => {
      if (!split.has(source)) {
        const content = sourceContentFor(map, source)
        split.set(source, typeof content === 'string' ? content.split(/\r?\n/) : undefined)
      }
      return split.get(source)
    },
  }
}
