import { randomBytes } from 'node:crypto'
import type { Project, Store } from './store/index.js'

export const DEFAULT_PROJECT = 'default'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

/** A new ingest key: `vgl_` and 24 base62 characters (~142 bits). */
export const newIngestKey = (): string => {
  let out = 'vgl_'
  // 62 * 4 = 248: rejecting bytes ≥ 248 keeps every character equally likely.
  while (out.length < 28) for (const b of randomBytes(32)) if (b < 248 && out.length < 28) out += ALPHABET[b % 62]
  return out
}

/**
 * The default project: its key is VIGIL_PROJECT_KEY when given, otherwise the key stored on an
 * earlier start, otherwise a new one, stored so the next start reuses it.
 */
export const ensureDefaultProject = async (store: Store, wantedKey: string | undefined): Promise<Project> => {
  const existing = (await store.projects()).find((p) => p.id === DEFAULT_PROJECT)
  if (existing && (!wantedKey || existing.ingestKey === wantedKey)) return existing
  const project: Project = { id: DEFAULT_PROJECT, name: 'Default project', ingestKey: wantedKey ?? newIngestKey() }
  await store.saveProject(project)
  return project
}
