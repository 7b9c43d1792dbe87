/**
 * `vigil sourcemaps upload`: finds each script of a build and its source map, and uploads the
 * map under the URL path the browser will load the script from.
 */
import { readdir, readFile } from 'node:fs/promises'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { gzipSync } from 'node:zlib'

export type Found = { script: string; url: string; map: string; debugId?: string }

const SCRIPT = /\.(?:[cm]?js)$/

/** The map a script names (`//# sourceMappingURL=…`, inline or a file), else `<script>.map` beside it. */
const mapOf = async (scriptPath: string, code: string): Promise<string | undefined> => {
  const named = [...code.matchAll(/\/\/[#@]\s*sourceMappingURL=(\S+)\s*$/gm)].pop()?.[1]
  if (named?.startsWith('data:')) {
    const comma = named.indexOf(',')
    const data = named.slice(comma + 1)
    return /;base64$/.test(named.slice(0, comma)) ? Buffer.from(data, 'base64').toString('utf8') : decodeURIComponent(data)
  }
  // A map served from elsewhere (`https://…/app.js.map`) is looked for beside the script, by name.
  const file = named && (named.includes('://') ? named.slice(named.lastIndexOf('/') + 1) : named).split(/[?#]/)[0]
  const candidates = file ? [resolve(dirname(scriptPath), decodeURIComponent(file))] : []
  candidates.push(`${scriptPath}.map`)
  for (const c of candidates) {
    try {
      return await readFile(c, 'utf8')
    } catch {
      // Not there: the next place.
    }
  }
  return undefined
}

/**
 * Every script under `dir` with its map. `urlPrefix` is where `dir` is served from (default `/`:
 * `dist/assets/app-1a2b.js` is `/assets/app-1a2b.js`); a full URL or Sentry's `~/` works too.
 */
export const findSourceMaps = async (dir: string, urlPrefix = '/'): Promise<{ found: Found[]; without: string[] }> => {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  const found: Found[] = []
  const without: string[] = []
  const prefix = urlPrefix.endsWith('/') ? urlPrefix : `${urlPrefix}/`
  for (const e of entries.filter((x) => x.isFile() && SCRIPT.test(x.name)).sort((a, b) => join(a.parentPath, a.name).localeCompare(join(b.parentPath, b.name)))) {
    const path = join(e.parentPath, e.name)
    const rel = relative(dir, path).split(sep).join('/')
    const code = await readFile(path, 'utf8')
    const map = await mapOf(path, code)
    if (!map) {
      without.push(rel)
      continue
    }
    const debugId = /\/\/[#@]\s*debugId=([0-9a-fA-F-]{32,36})\s*$/m.exec(code)?.[1]
    found.push({ script: rel, url: prefix + rel, map, ...(debugId ? { debugId } : {}) })
  }
  return { found, without }
}

export type UploadResult = { script: string; url: string; ok: boolean; status: number; message: string }

/** Uploads each map (gzipped), a few at a time. */
export const uploadSourceMaps = async (base: string, token: string | undefined, q: { release: string; project?: string }, found: Found[], concurrency = 4): Promise<UploadResult[]> => {
  const results: UploadResult[] = []
  const queue = [...found]
  const worker = async () => {
    for (let f = queue.shift(); f; f = queue.shift()) {
      const params = new URLSearchParams({ release: q.release, url: f.url, ...(q.project ? { project: q.project } : {}), ...(f.debugId ? { debug_id: f.debugId } : {}) })
      let status = 0
      let message: string
      try {
        const res = await fetch(`${base.replace(/\/+$/, '')}/v1/sourcemaps?${params}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: gzipSync(f.map),
        })
        status = res.status
        const text = await res.text()
        const json = (() => {
          try {
            return JSON.parse(text) as { code?: string; message?: string; bytes?: number; sources?: number }
          } catch {
            return undefined
          }
        })()
        message = res.ok ? `${Math.round((json?.bytes ?? 0) / 1024)} KB, ${json?.sources ?? 0} sources` : `${status} ${json?.code ?? ''}: ${json?.message ?? text}`
      } catch (err) {
        message = `cannot reach the collector at ${base}: ${String((err as Error).cause ?? (err as Error).message)}`
      }
      results.push({ script: f.script, url: f.url, ok: status === 201, status, message })
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, found.length) }, worker))
  return results.sort((a, b) => a.script.localeCompare(b.script))
}
