/**
 * A seeded PRNG (mulberry32) for the benchmarks: one stream per `name` (under one seed), so
 * adding a case or a kind of data does not shift the others.
 */
export type Rng = ReturnType<typeof makeRng>

export const makeRng = (seed: number, name: string) => {
  let a = 0x811c9dc5
  for (const ch of `${seed}:${name}`) a = Math.imul(a ^ ch.charCodeAt(0), 0x01000193) >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const gauss = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next())
  return {
    next,
    uniform: (lo: number, hi: number) => lo + (hi - lo) * next(),
    chance: (p: number) => next() < p,
    int: (n: number) => Math.floor(next() * n),
    exp: (mean: number) => -mean * Math.log(1 - next()),
    /** A log-normal around `median`. */
    logNormal: (median: number, sigma: number) => median * Math.exp(sigma * gauss()),
    poisson: (mean: number): number => {
      if (mean <= 0) return 0
      if (mean > 40) return Math.max(0, Math.round(mean + Math.sqrt(mean) * gauss()))
      const l = Math.exp(-mean)
      let k = 0
      let p = 1
      do {
        k++
        p *= next()
      } while (p > l)
      return k - 1
    },
    id: () => Math.floor(next() * 2 ** 53).toString(36) + Math.floor(next() * 2 ** 30).toString(36),
  }
}
