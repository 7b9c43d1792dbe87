import { LRUCache } from 'lru-cache'
import { mappedFingerprint } from '../grouping/fingerprint.js'
import { symbolicate, type LoadedMap, type MapFor, type Symbolicated } from '../grouping/symbolicate.js'
import { loadedMap, parseSourceMap } from './parse.js'

export type SourceMapsOptions = {
  /** The map text of a minified file of a release, from storage. May throw while storage is away. */
  load: (project: string, release: string, path: string) => Promise<string | undefined>
  /** Memory for parsed maps, about: a parsed map takes some three times its text. */
  maxBytes: number
  /** How long "no map for this file" is believed: a map uploaded through another collector is used here within this. */
  missMs: number
  /** How long a map is kept at most: a map uploaded again through another collector replaces it here within this. */
  hitMs: number
  /** After each load from storage. */
  onLoad?: (seconds: number, found: boolean) => void
  log: { warn: (obj: unknown, msg: string) => void }
}

type Entry = { loaded?: LoadedMap; bytes: number }

const keyOf = (...parts: string[]) => JSON.stringify(parts)

/**
 * Source maps for symbolication, from storage into a bounded cache (least recently used out
 * first), each loaded once however many frames ask for it at the same time. What a map regroups
 * an error into is remembered too: the same error arrives many times.
 */
export const createSourceMaps = (o: SourceMapsOptions) => {
  const maps = new LRUCache<string, Entry>({
    maxSize: o.maxBytes,
    sizeCalculation: (e) => e.bytes,
    fetchMethod: async (key, _stale, { options }) => {
      const [project, release, path] = JSON.parse(key) as [string, string, string]
      const started = process.hrtime.bigint()
      const text = await o.load(project, release, path)
      o.onLoad?.(Number(process.hrtime.bigint() - started) / 1e9, text !== undefined)
      options.ttl = o.missMs
      if (text === undefined) return { bytes: 1 }
      try {
        const loaded = loadedMap(parseSourceMap(text))
        options.ttl = o.hitMs
        return { loaded, bytes: Math.max(1, text.length * 3) }
      } catch (err) {
        o.log.warn({ err }, `source map of ${path} (${project} ${release}) does not parse: frames there stay minified`)
        return { bytes: 1 }
      }
    },
  })
  const groups = new LRUCache<string, { fingerprint: string }>({ max: 20_000 })

  const mapFor =
    (project: string, release: string): MapFor =>
    async (path) =>
      (await maps.fetch(keyOf(project, release, path)))?.loaded

  const symbolicated = (project: string, release: string, stack: string, pageUrl: string): Promise<Symbolicated> => symbolicate(stack, pageUrl, mapFor(project, release))

  return {
    symbolicate: symbolicated,
    /**
     * The group of an error by its original source (mappedFingerprint), or undefined when the
     * release has no map for the app's top frame. Throws when storage cannot be read.
     */
    regroup: async (project: string, release: string, type: string, message: string, stack: string, pageUrl: string): Promise<string | undefined> => {
      const key = keyOf(project, release, type, message, pageUrl.split('/', 3)[2] ?? '', stack)
      let hit = groups.get(key)
      if (!hit) {
        const s = await symbolicated(project, release, stack, pageUrl)
        hit = { fingerprint: s.source ? mappedFingerprint(type, message, s.source.file, s.source.code) : '' }
        groups.set(key, hit, { ttl: hit.fingerprint ? o.hitMs : o.missMs })
      }
      return hit.fingerprint || undefined
    },
    /** A release's maps changed (an upload here): what was known of them is forgotten. */
    forget: (project: string, release: string) => {
      const prefix = keyOf(project, release).slice(0, -1) + ','
      for (const cache of [maps, groups] as LRUCache<string, object>[]) for (const k of [...cache.keys()]) if (k.startsWith(prefix)) cache.delete(k)
    },
    /** Parsed maps in memory, and about how many bytes. */
    held: () => ({ maps: maps.size, bytes: maps.calculatedSize }),
  }
}
export type SourceMaps = ReturnType<typeof createSourceMaps>
