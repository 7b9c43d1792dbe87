import { AnyMap, decodedMappings, sourceContentFor, type TraceMap } from '@jridgewell/trace-mapping'
import type { LoadedMap } from '../grouping/symbolicate.js'

/** Why a map was refused: the code says which. */
export class InvalidSourceMap extends Error {}

/**
 * A source map, checked: JSON, version 3, sources, mappings (or an index map's sections), and
 * mappings that decode. Parsed and decoded by @jridgewell/trace-mapping.
 */
export const parseSourceMap = (text: string): TraceMap => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new InvalidSourceMap(`not JSON: ${(err as Error).message}`)
  }
  const m = json as { version?: unknown; sources?: unknown; mappings?: unknown; sections?: unknown } | null
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new InvalidSourceMap('not a JSON object')
  if (m.version !== 3) throw new InvalidSourceMap(`version is ${JSON.stringify(m.version)}, not 3`)
  if (!Array.isArray(m.sections) && (!Array.isArray(m.sources) || typeof m.mappings !== 'string')) throw new InvalidSourceMap('no "sources" array and "mappings" string (nor "sections")')
  try {
    const map = new AnyMap(m as ConstructorParameters<typeof AnyMap>[0])
    decodedMappings(map)
    return map
  } catch (err) {
    throw new InvalidSourceMap(`does not decode: ${(err as Error).message}`)
  }
}

/** A parsed map whose sources' lines are split once, when first asked for. */
export const loadedMap = (map: TraceMap): LoadedMap => {
  const split = new Map<string, string[] | undefined>()
  return {
    map,
    lines: (source) => {
      if (!split.has(source)) split.set(source, sourceContentFor(map, source)?.split(/\r?\n/))
      return split.get(source)
    },
  }
}
