import type { KeyValueStore } from '../types'

/** Stores `value` as JSON under `key`; a full or refusing store keeps what it had. */
export const writeJson = (store: KeyValueStore, key: string, value: unknown): void => {
  try {
    store.setItem(key, JSON.stringify(value))
  } catch {
    // Kept in memory only.
  }
}
