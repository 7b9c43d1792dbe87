/**
 * Kept rows' groups (a release, a flow, an error group; a vital of a release) and sources (a
 * client network, or the session itself) numbered as rows arrive, and anew only when rows are let
 * go — so a look's columns (keptTable.ts, vitalMemory.ts) need no string work. Each pair of group
 * and source has a number of its own, and one within its group (its source's).
 */
export const numbering = <G>() => {
  let pairs = new Map<string, number>()
  let groupIndex = new Map<string, number>()
  /** Each group (as `make` gave it) and how many sources it has; each pair's group, source, and source's number in its group. */
  let groups: G[] = []
  let sources: number[] = []
  let pairGroup: number[] = []
  let pairSource: string[] = []
  let pairLocal: number[] = []
  const pairKey = (g: string, s: string) => `${g}\u0001${s}`
  return {
    /** The pair of group `g` (made by `make` when it is new) and source `s`. */
    pair: (g: string, s: string, make: () => G) => {
      const gs = pairKey(g, s)
      let p = pairs.get(gs)
      if (p === undefined) {
        let i = groupIndex.get(g)
        if (i === undefined) {
          groupIndex.set(g, (i = groups.push(make()) - 1))
          sources.push(0)
        }
        pairs.set(gs, (p = pairGroup.push(i) - 1))
        pairSource.push(s)
        pairLocal.push(sources[i]!++)
      }
      return p
    },
    /** The pair of group `g` and source `s`, if a row has it. */
    pairOf: (g: string, s: string) => pairs.get(pairKey(g, s)),
    /** Forgets every number (the rows still kept are numbered again). */
    reset: () => {
      pairs = new Map()
      groupIndex = new Map()
      groups = []
      sources = []
      pairGroup = []
      pairSource = []
      pairLocal = []
    },
    get pairs() {
      return pairGroup.length
    },
    group: (i: number) => groups[i]!,
    get groups(): readonly G[] {
      return groups
    },
    /** Per group, how many sources it has. */
    get sources(): readonly number[] {
      return sources
    },
    groupOf: (p: number) => pairGroup[p]!,
    sourceOf: (p: number) => pairSource[p]!,
    /** Pair `p`'s source's number within its group. */
    localOf: (p: number) => pairLocal[p]!,
  }
}
