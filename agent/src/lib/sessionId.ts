import { uid } from './uid'

const KEY = 'vigil.sid'

/** The tab's session id: kept in sessionStorage so it survives a reload; a new one per tab. */
export const sessionId = (): string => {
  try {
    const s = sessionStorage.getItem(KEY)
    if (s) return s
    const id = uid()
    sessionStorage.setItem(KEY, id)
    return id
  } catch {
    return uid()
  }
}
