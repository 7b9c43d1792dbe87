/**
 * Calls of `fn` with the same key while one is running share its answer: ten tabs refreshing after
 * the same look ask the same question at the same moment, and ClickHouse (chDB: one query at a
 * time) answers it once. Nothing is kept once the answer is given: the next call asks again.
 */
export const sharedInFlight = <A extends unknown[], T>(fn: (...args: A) => Promise<T>, key: (...args: A) => string) => {
  const running = new Map<string, Promise<T>>()
  return (...args: A): Promise<T> => {
    const k = key(...args)
    const known = running.get(k)
    if (known) return known
    const answer = fn(...args).finally(() => running.delete(k))
    running.set(k, answer)
    return answer
  }
}
