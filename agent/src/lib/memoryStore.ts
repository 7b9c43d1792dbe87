import type { KeyValueStore } from '../types'

/** Storage that lives as long as the page: the fallback when nothing persistent is usable. */
export const memoryStore = (): KeyValueStore => {
  const m: Record<string, string> = {}
  // A missing key reads as undefined, which readJson takes as absent.
  return { getItem: (k) => m[k] as string, setItem: (k, v) => void (m[k] = v) }
}
