import { LRUCache } from 'lru-cache'
import { fileNameOf } from '../grouping/fileName.js'
import { mappedFingerprint } from '../grouping/fingerprint.js'
import { groupingSource, symbolicate, type LoadedMap, type MapFor, type OriginalFrame } from '../grouping/symbolicate.js'
import { loadedMap, parseSourceMap } from './parse.js'

export type SourceMapsOptions = {
  /** Every release's minified files with a map, of a project, from storage. May throw while storage is away. */
  index: (project: string) => Promise<{ release: string; path: string }[]>
  /** The map text of a minified file of a release, by its URL path as stored. May throw while storage is away. */
  load: (project: string, release: string, path: string) => Promise<string | undefined>
  /** Memory for parsed maps, about: a parsed map takes some fifteen times its text (decoded mappings). */
  maxBytes: number
  /**
   * Time spent parsing maps at most per 10 s. A parse holds the event loop (~0.5 s for 5 MB); past
   * this, a frame whose map is not in memory stays minified for now (a sender with the public key
   * naming files of many releases cannot make the collector parse maps all the time).
   */
  maxParseMsPer10s: number
  /** A frame left minified because of maxParseMsPer10s. */
  onDeferred?: () => void
  /** How long the list of what has maps is believed: a map uploaded through another collector is used here within this. */
  missMs: number
  /** How long a map is kept at most: a map uploaded again through another collector replaces it here within this. */
  hitMs: number
  /** After each load from storage. */
  onLoad?: (seconds: number, found: boolean) => void
  log: { warn: (obj: unknown, msg: string) => void }
}

type Entry = { loaded?: LoadedMap; bytes: number }

/** Heap a parsed map takes for each byte of its text: 14 measured on esbuild's map of typescript.js (5.1 MB). */
const PARSED_BYTES_PER_BYTE = 15

const keyOf = (...parts: string[]) => JSON.stringify(parts)

/** A project's releases with maps: per release, its files' URL paths, and by file name the path of the one map of that name. */
type Index = Map<string, { paths: Set<string>; byName: Map<string, string | null> }>

/**
 * Source maps for symbolication, from storage into a bounded cache (least recently used out
 * first), each loaded once however many frames ask for it at the same time. Which files have
 * maps is known from a list read once per project every `missMs`: a frame of a release or file
 * without one — whatever a sender with the public key makes up — costs no read of storage. What
 * a map regroups an error into is remembered too: the same error arrives many times.
 */
export const createSourceMaps = (o: SourceMapsOptions) => {
  const indexes = new Map<string, { at: number; index: Promise<Index> }>()
  const indexOf = (project: string): Promise<Index> => {
    const known = indexes.get(project)
    if (known && Date.now() - known.at < o.missMs) return known.index
    const index = o.index(project).then((rows) => {
      const out: Index = new Map()
      for (const { release, path } of rows) {
        let r = out.get(release)
        if (!r) out.set(release, (r = { paths: new Set(), byName: new Map() }))
        r.paths.add(path)
        // A file name is a key only when one map of the release has it (content-hashed names are unique).
        const name = fileNameOf(path)
        r.byName.set(name, r.byName.has(name) ? null : path)
      }
      return out
    })
    indexes.set(project, { at: Date.now(), index })
    // A failed read is not remembered: the next asks again.
    index.catch(() => indexes.get(project)?.index === index && indexes.delete(project))
    return index
  }

  const maps = new LRUCache<string, Entry>({
    maxSize: o.maxBytes,
    // A load evicted (by loads for other maps) before it ends still gives its map to those waiting.
    ignoreFetchAbort: true,
    sizeCalculation: (e) => e.bytes,
    fetchMethod: async (key, _stale, { options }) => {
      const [project, release, path] = JSON.parse(key) as [string, string, string]
      const started = process.hrtime.bigint()
      const text = await o.load(project, release, path)
      o.onLoad?.(Number(process.hrtime.bigint() - started) / 1e9, text !== undefined)
      options.ttl = o.missMs
      if (text === undefined) return { bytes: 1 }
      const parseStarted = performance.now()
      try {
        const loaded = loadedMap(parseSourceMap(text))
        options.ttl = o.hitMs
        return { loaded, bytes: Math.max(1, text.length * PARSED_BYTES_PER_BYTE) }
      } catch (err) {
        o.log.warn({ err }, `source map of ${path} (${project} ${release}) does not parse: frames there stay minified`)
        return { bytes: 1 }
      } finally {
        parsing += performance.now() - parseStarted
      }
    },
  })
  // What errors were regrouped into, by release, page host and the errors' own stored fields
  // (`same`): bounded by the bytes of its keys, whatever senders make up.
  const groups = new LRUCache<string, { fingerprint: string }>({ maxSize: 32 * 1024 * 1024, sizeCalculation: (_v, k) => k.length + 64 })

  // Parsing time spent in the current 10 s, and loads under way (at most a few: their parses are
  // not counted until they end).
  let window = 0
  let parsing = 0
  let loading = 0
  let deferred = 0
  const mayLoad = () => {
    const now = Date.now()
    if (now - window >= 10_000) {
      window = now
      parsing = 0
    }
    return parsing < o.maxParseMsPer10s && loading < 4
  }

  /**
   * The map of a minified file by the URL path a frame gives: the map stored for that path, else
   * the one map of the release with its file name (a wrong --url-prefix, a CDN's path).
   */
  const mapFor =
    (project: string, release: string): MapFor =>
    async (path) => {
      const files = (await indexOf(project)).get(release)
      const stored = files && (files.paths.has(path) ? path : files.byName.get(fileNameOf(path)))
      if (!stored) return undefined
      const key = keyOf(project, release, stored)
      const held = maps.get(key)
      if (held) return held.loaded
      if (!mayLoad()) {
        deferred++
        o.onDeferred?.()
        return undefined
      }
      loading++
      try {
        return (await maps.fetch(key))?.loaded
      } finally {
        loading--
      }
    }

  return {
    /** A stack's frames at their original places, where the release has maps. Throws when storage cannot be read. */
    symbolicate: (project: string, release: string, stack: string, pageUrl: string): Promise<OriginalFrame[]> => symbolicate(stack, pageUrl, mapFor(project, release)),
    /**
     * The group of an error by its original source (mappedFingerprint), or undefined when the
     * release has no map for the app's top frame. The same error arrives many times: what it was
     * regrouped into is remembered, by its release, its page's host and `same` (anything that is
     * equal for equal errors: the drainer gives their stored fields as they are), and `read`
     * gives the error only when it is not known. Throws when storage cannot be read.
     */
    regroup: async (
      project: string,
      release: string,
      host: string,
      same: string,
      read: () => { type: string; message: string; stack: string; pageUrl: string },
    ): Promise<string | undefined> => {
      const key = `${keyOf(project, release)}\t${host}\t${same}`
      let hit = groups.get(key)
      if (!hit) {
        const e = read()
        const deferredBefore = deferred
        const source = await groupingSource(e.stack, e.pageUrl, mapFor(project, release))
        hit = { fingerprint: source ? mappedFingerprint(e.type, e.message, source.file, source.code) : '' }
        // Not remembered when a map was not read for now (maxParseMsPer10s): the next may have it.
        // A copy of the key: `same` may be a slice of a chunk of megabytes, which it would keep alive.
        if (deferred === deferredBefore) groups.set(Buffer.from(key).toString(), hit, { ttl: hit.fingerprint ? o.hitMs : o.missMs })
      }
      return hit.fingerprint || undefined
    },
    /** A release's maps changed (an upload here): what was known of them is forgotten. */
    forget: (project: string, release: string) => {
      const key = keyOf(project, release)
      const paths = `${key.slice(0, -1)},`
      indexes.delete(project)
      for (const k of [...maps.keys()]) if (k.startsWith(paths)) maps.delete(k)
      for (const k of [...groups.keys()]) if (k.startsWith(`${key}\t`)) groups.delete(k)
    },
    /** Parsed maps in memory, and about how many bytes. */
    held: () => ({ maps: maps.size, bytes: maps.calculatedSize }),
  }
}
export type SourceMaps = ReturnType<typeof createSourceMaps>
