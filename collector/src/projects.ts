import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import type { Project, ProjectStore } from './store/index.js'

export const DEFAULT_PROJECT = 'default'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

const randomToken = (prefix: string, chars: number): string => {
  let out = prefix
  const length = prefix.length + chars
  // 62 * 4 = 248: rejecting bytes ≥ 248 keeps every character equally likely.
  while (out.length < length) for (const b of randomBytes(32)) if (b < 248 && out.length < length) out += ALPHABET[b % 62]
  return out
}

/** A new ingest key: `vgl_` and 24 base62 characters (~142 bits). Public: it is in every page. */
export const newIngestKey = (): string => randomToken('vgl_', 24)

/** A new upload token: `vglu_` and 32 base62 characters (~190 bits). Secret: it lives in CI. */
export const newUploadToken = (): string => randomToken('vglu_', 32)

const digest = (s: string) => createHash('sha256').update(s).digest()

/** Does `origin` (from the Origin header) match an allowed pattern (`https://app.example`, `https://*.example.com`)? */
export const originAllowed = (patterns: string[], origin: string): boolean =>
  patterns.length === 0 ||
  patterns.some((p) => {
    if (p === '*' || p === origin) return true
    const star = p.indexOf('*.')
    if (star < 0) return false
    const [scheme, rest] = [p.slice(0, star), p.slice(star + 1)] // "https://", ".example.com"
    return origin.startsWith(scheme) && origin.endsWith(rest) && !origin.slice(scheme.length, -rest.length).includes('/')
  })

const slug = (name: string) =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40) || 'project'

export type ProjectRegistry = ReturnType<typeof createProjects>

/** What a project's owner sets. */
export type Settings = Partial<Pick<Project, 'origins' | 'rateLimit' | 'transactionFlows'>>

/**
 * The projects and their keys. ClickHouse holds them (so collectors behind one load balancer
 * share them); a copy in the data directory lets intake check keys while ClickHouse is down.
 * Changes made while ClickHouse is down are written to it once it is back.
 */
export const createProjects = (store: ProjectStore, cacheFile: string, log: { warn: (obj: unknown, msg: string) => void }) => {
  let all = new Map<string, Project>()
  let byKey = new Map<string, Project>()
  const unsaved = new Set<string>()

  const index = () => {
    byKey = new Map()
    for (const p of all.values()) {
      byKey.set(p.ingestKey, p)
      if (p.previousKey) byKey.set(p.previousKey, p)
    }
  }

  const writeCache = () => {
    try {
      writeFileSync(`${cacheFile}.tmp`, JSON.stringify([...all.values()], null, 2))
      renameSync(`${cacheFile}.tmp`, cacheFile)
    } catch (err) {
      log.warn({ err }, 'projects: could not write the local copy')
    }
  }

  try {
    // A copy written before upload tokens (transaction flows) existed has none.
    all = new Map((JSON.parse(readFileSync(cacheFile, 'utf8')) as Project[]).map((p) => [p.id, { ...p, uploadToken: p.uploadToken ?? '', transactionFlows: p.transactionFlows ?? {} }]))
    index()
  } catch {
    // No copy yet.
  }

  const save = async (p: Project) => {
    all.set(p.id, p)
    index()
    writeCache()
    unsaved.add(p.id)
    try {
      await store.saveProject(p)
      unsaved.delete(p.id)
    } catch (err) {
      log.warn({ err }, `projects: ${p.id} saved locally, will be stored in ClickHouse when it is reachable`)
    }
    return p
  }

  /** Merges what ClickHouse has (the newest version of each project wins) and stores local changes it lacks. */
  const refresh = async () => {
    const stored = await store.projects()
    for (const p of stored) {
      const mine = all.get(p.id)
      if (!mine || p.updated > mine.updated) all.set(p.id, p)
    }
    for (const id of new Set([...unsaved, ...[...all.keys()].filter((id) => !stored.some((p) => p.id === id))])) {
      await store.saveProject(all.get(id)!)
      unsaved.delete(id)
    }
    index()
    writeCache()
  }

  /** The project a key belongs to, if the key is current (or a rotated key still in its grace period). */
  const forKey = (key: string): Project | undefined => {
    const p = byKey.get(key)
    if (!p) return undefined
    if (key === p.ingestKey) return p
    return key === p.previousKey && Date.now() < p.previousKeyUntil ? p : undefined
  }

  const fresh = (id: string, name: string, over: Partial<Project> = {}): Project => ({
    id,
    name,
    ingestKey: newIngestKey(),
    origins: [],
    previousKey: '',
    previousKeyUntil: 0,
    rateLimit: 0,
    transactionFlows: {},
    uploadToken: newUploadToken(),
    updated: Date.now(),
    ...over,
  })

  /** The default project: its key is VIGIL_PROJECT_KEY when given, else the one it has, else a new one; it has an upload token. */
  const ensureDefault = async (wantedKey: string | undefined): Promise<Project> => {
    const existing = all.get(DEFAULT_PROJECT)
    if (existing && (!wantedKey || existing.ingestKey === wantedKey) && existing.uploadToken) return existing
    const base = existing ?? fresh(DEFAULT_PROJECT, 'Default project')
    return save({ ...base, ingestKey: wantedKey ?? base.ingestKey, uploadToken: base.uploadToken || newUploadToken(), updated: Date.now() })
  }

  /** The project an upload token belongs to (compared in constant time). */
  const forUploadToken = (token: string): Project | undefined => {
    const given = digest(token)
    return [...all.values()].find((p) => p.uploadToken !== '' && timingSafeEqual(digest(p.uploadToken), given))
  }

  /** A new upload token; the old one stops working at once (it lives in CI secrets, not in pages out there). */
  const rotateUploadToken = async (id: string) => {
    const p = all.get(id)
    return p && save({ ...p, uploadToken: newUploadToken(), updated: Date.now() })
  }

  const add = async (name: string, opts: Settings & { id?: string } = {}) => {
    let id = opts.id ?? slug(name)
    if (!opts.id) for (let n = 2; all.has(id); n++) id = `${slug(name)}-${n}`
    if (all.has(id)) throw new Error(`project ${id} exists`)
    return save(fresh(id, name, { origins: opts.origins ?? [], rateLimit: opts.rateLimit ?? 0, transactionFlows: opts.transactionFlows ?? {} }))
  }

  /** A new key; the old one keeps working for `graceMs` so pages already out there are not cut off. */
  const rotateKey = async (id: string, graceMs: number) => {
    const p = all.get(id)
    if (!p) return undefined
    return save({ ...p, ingestKey: newIngestKey(), previousKey: p.ingestKey, previousKeyUntil: Date.now() + graceMs, updated: Date.now() })
  }

  const update = async (id: string, change: Settings & { name?: string }) => {
    const p = all.get(id)
    if (!p) return undefined
    return save({ ...p, ...change, updated: Date.now() })
  }

  return {
    refresh,
    forKey,
    forUploadToken,
    ensureDefault,
    rotateUploadToken,
    add,
    rotateKey,
    update,
    get: (id: string) => all.get(id),
    list: () => [...all.values()].sort((a, b) => a.id.localeCompare(b.id)),
    ids: () => [...all.keys()],
  }
}
