import type { KeyValueStore } from '../types'
import { g } from './global'
import { memoryStore } from './memoryStore'

/**
 * `localStorage` or `sessionStorage` when the page may use it (it throws in sandboxed frames
 * and some private modes), else memory.
 */
export const webStore = (name: 'localStorage' | 'sessionStorage'): KeyValueStore => {
  try {
    const s: KeyValueStore = g[name]
    s.setItem('vigil.t', '1')
    return s
  } catch {
    return memoryStore()
  }
}
