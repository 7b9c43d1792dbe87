/** Items by key, in their order (Map.groupBy, which Node 20 lacks). */
export const groupBy = <T, K>(items: Iterable<T>, keyOf: (item: T) => K): Map<K, T[]> => {
  const out = new Map<K, T[]>()
  for (const item of items) {
    const list = out.get(keyOf(item))
    if (list) list.push(item)
    else out.set(keyOf(item), [item])
  }
  return out
}
