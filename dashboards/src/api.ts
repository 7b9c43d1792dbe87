import { RANGES as ranges } from '../../collector/src/releaseNumbers.js'
import type { Overview, ReleaseDetail } from './types.js'

/** Where the page is: which project, environment and range, kept in the address so a link (an alert's) opens the same view. */
export type Where = { project: string; env: string; range: string }

export const RANGES = Object.keys(ranges)

export const where = (): Where => {
  const q = new URLSearchParams(location.search)
  return { project: q.get('project') ?? 'default', env: q.get('env') ?? '', range: q.get('range') ?? '1h' }
}

export const query = (w: Where): string => {
  const q = new URLSearchParams({ project: w.project, range: w.range })
  if (w.env) q.set('env', w.env)
  return q.toString()
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

const get = async <T>(path: string): Promise<T> => {
  const res = await fetch(path, { headers: { accept: 'application/json' } })
  if (res.status === 401) {
    // The session ended (or the token changed): log in again, then come back here.
    location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`)
    throw new HttpError(401, 'login required')
  }
  const body = (await res.json()) as T & { message?: string }
  if (!res.ok) throw new HttpError(res.status, body.message ?? `HTTP ${res.status}`)
  return body
}

export const overview = (w: Where) => get<Overview>(`/v1/overview?${query(w)}`)
export const release = (name: string, w: Where) => get<ReleaseDetail>(`/v1/releases/${encodeURIComponent(name)}?${query(w)}`)
