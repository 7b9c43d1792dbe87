/** How numbers read on the page: the same rounding everywhere, so what a test reads is what a person reads. */
export const pct = (x: number | null | undefined): string => (x === null || x === undefined ? '—' : `${(x * 100).toFixed(1)}%`)

/** A difference of two rates, in percentage points, signed. */
export const points = (x: number | null | undefined): string => (x === null || x === undefined ? '—' : `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)} pt`)

export const count = (n: number): string => n.toLocaleString('en-US')

/** Web vitals: CLS has no unit; the others are milliseconds. */
export const vital = (name: string, v: number): string => (name === 'CLS' ? v.toFixed(3) : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`)

export const ago = (iso: string, now = Date.now()): string => {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000))
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`
  return `${Math.floor(s / 86400)} d ago`
}

/** A time and how long ago it was: `12:03:28 AM (20 min ago)`. */
export const when = (iso: string): string => `${time(iso)} (${ago(iso)})`

export const time = (iso: string): string => {
  const d = new Date(iso)
  const today = new Date().toDateString() === d.toDateString()
  return today ? d.toLocaleTimeString() : d.toLocaleString()
}

/** A baseline's releases: up to five named, the rest counted. */
export const releaseList = (b: { releases: string[]; release_count: number }): string =>
  b.release_count > b.releases.length ? `${b.releases.join(', ')} and ${b.release_count - b.releases.length} more` : b.releases.join(', ')
