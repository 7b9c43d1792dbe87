/**
 * Remembers the last `size` answers of `fn`, by `key(...args)`. The collector sees the same page
 * URLs, user agents and stacks over and over: computing them once each is the cheap path.
 */
export const memo = <A extends unknown[], T>(fn: (...args: A) => T, size = 5000, key: (...args: A) => string = (...a) => String(a[0])) => {
  const cache = new Map<string, T>()
  return (...args: A): T => {
    const k = key(...args)
    const hit = cache.get(k)
    if (hit !== undefined) return hit
    const value = fn(...args)
    if (cache.size >= size) cache.delete(cache.keys().next().value as string)
    cache.set(k, value)
    return value
  }
}
