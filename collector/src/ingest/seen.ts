/**
 * Batch ids seen recently, per project, so a batch the agent retried (its answer was lost) or
 * sent twice (beacon and fetch) is stored once. Bounded: the oldest ids are forgotten first.
 */
export const createSeenBatches = (capacity = 200_000) => {
  const seen = new Set<string>()
  const has = (key: string) => seen.has(key)
  const add = (key: string) => {
    seen.add(key)
    if (seen.size > capacity) seen.delete(seen.values().next().value as string)
  }
  const remove = (key: string) => void seen.delete(key)
  return { has, add, remove }
}
export type SeenBatches = ReturnType<typeof createSeenBatches>
