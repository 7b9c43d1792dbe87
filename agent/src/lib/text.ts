/** A string for anything: an Error's message, or the thing itself; '?' when even that throws. */
export const text = (x: unknown): string => {
  try {
    return '' + ((x as Error).message || x)
  } catch {
    return '?'
  }
}
