import type { KeyValueStore } from '../types'

/** Parsed JSON under `key`, or undefined when absent or unreadable. */
export const readJson = <T>(store: KeyValueStore, key: string): T | undefined => {
  try {
    return JSON.parse(store.getItem(key) as string) || undefined
  } catch {
    return undefined
  }
}
