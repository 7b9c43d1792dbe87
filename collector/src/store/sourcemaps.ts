/**
 * Source maps: uploaded and listed by the upload routes (sourcemaps/routes.ts), read by the
 * source-map cache (sourcemaps/cache.ts) to regroup errors and show original frames.
 */
import type { Db } from './connection.js'
import { SOURCEMAPS } from './tables.js'
import type { SourceMapRow } from './types.js'

/** The upload routes' (sourcemaps/routes.ts) and the source-map cache's (sourcemaps/cache.ts, via app.ts) storage. */
export type SourceMapStore = {
  saveSourceMap: (m: SourceMapRow) => Promise<void>
  /** The map text of a release's minified file, by its URL path as stored. */
  sourceMap: (project: string, release: string, path: string) => Promise<string | undefined>
  /** Every release's minified files with a map, of a project (no map text). */
  sourceMapIndex: (project: string) => Promise<{ release: string; path: string }[]>
  /** A release's maps, without their text. */
  sourceMaps: (project: string, release: string) => Promise<Omit<SourceMapRow, 'map'>[]>
}

export const createSourceMapStore = (db: Db): SourceMapStore => {
  const saveSourceMap = (m: SourceMapRow) => db.insert(SOURCEMAPS, [m])

  const sourceMap = async (project: string, release: string, path: string): Promise<string | undefined> => {
    const [found] = await db.rows<{ map: string }>(
      `SELECT map FROM ${SOURCEMAPS} FINAL WHERE project = {project:String} AND release = {release:String} AND path = {path:String}`,
      { project, release, path },
    )
    return found?.map
  }

  const sourceMapIndex = (project: string) =>
    db.rows<{ release: string; path: string }>(`SELECT release, path FROM ${SOURCEMAPS} FINAL WHERE project = {project:String}`, { project })

  const sourceMaps = (project: string, release: string) =>
    db.rows<Omit<SourceMapRow, 'map'>>(
      `SELECT project, release, path, debug_id, bytes, sources, toUnixTimestamp64Milli(uploaded) AS uploaded
      FROM ${SOURCEMAPS} FINAL WHERE project = {project:String} AND release = {release:String} ORDER BY path`,
      { project, release },
    )

  return { saveSourceMap, sourceMap, sourceMapIndex, sourceMaps }
}
