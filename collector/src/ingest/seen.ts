/**
 * Batch ids seen recently, per project, so a batch the agent retried (its answer was lost) or
 * sent twice (beacon and fetch) is stored once. Bounded: the oldest ids are forgotten first.
 */
export const createSeenBatches = (capacity = 200_000) => {
  const seen = new Set<string>()
  const key = (project: string, batch: string) => `${project}\u0000${batch}`
  const has = (project: string, batch: string) => seen.has(key(project, batch))
  const add = (project: string, batch: string) => {
    seen.add(key(project, batch))
    if (seen.size > capacity) seen.delete(seen.values().next().value as string)
  }
  const remove = (project: string, batch: string) => void seen.delete(key(project, batch))
  return { has, add, remove }
}
export type SeenBatches = ReturnType<typeof createSeenBatches>
