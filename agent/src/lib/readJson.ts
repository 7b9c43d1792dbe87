import type { KeyValueStore } from '../types'

/** Parsed JSON under `key`; when absent or unreadable something false (null or undefined). */
export const readJson = <T>(store: KeyValueStore, key: string): T | undefined => {
  try {
    return JSON.parse(store.getItem(key) as string)
  } catch {
    // Unreadable: undefined.
  }
}
