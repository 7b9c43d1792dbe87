import type { AboveQuestion, ReleaseSummary, VitalAbove } from '../store/index.js'
import type { WindowReader } from './look.js'
import { evaluateVital, type BaselineInfo, type Finding, type PreviousWindow, type RuleOptions, type WindowData } from './rules.js'

/** Samples a vital needs, in the release and in its baseline, to be judged. */
const MIN_SAMPLES = 50

export type VitalJudging = {
  /** How many of a release's samples are above a threshold (the look's batched read). */
  above: (q: AboveQuestion) => Promise<VitalAbove>
  reader: Pick<WindowReader, 'now' | 'whole' | 'vitals'>
  project: string
  release: ReleaseSummary
  /** The release's window. */
  cur: WindowData
  prev: PreviousWindow | undefined
  /** The releases that arrived before this one: only they are its baseline. */
  older: ReadonlySet<string>
  options: RuleOptions
}

/**
 * Each web vital of a release against its baseline's p75: the other live release with the most
 * samples, else the previous release's.
 */
export const vitalFindings = async ({ above: aboveOf, reader, project, release: r, cur, prev, older, options }: VitalJudging): Promise<Finding[]> => {
  // A release without enough samples over the whole window has none since its start: nothing more to read.
  if (!(await reader.vitals(reader.whole, reader.now)).some((v) => v.env === r.env && v.release === r.release && v.samples >= MIN_SAMPLES)) return []
  const stats = (await reader.vitals(cur.from, cur.to)).filter((v) => v.env === r.env)
  const mine = stats.filter((v) => v.release === r.release && v.samples >= MIN_SAMPLES)
  // The previous release's stats: read only when some vital has no concurrent baseline.
  const needsPrev = prev && mine.some((m) => !stats.some((v) => v.name === m.name && older.has(v.release) && v.samples >= MIN_SAMPLES))
  const prevStats = needsPrev ? (await reader.vitals(prev.from, prev.to)).filter((v) => v.env === r.env && v.release === prev.release) : []
  const judged = mine.map(async (m): Promise<Finding | undefined> => {
    let base = stats.filter((v) => v.name === m.name && older.has(v.release) && v.samples >= MIN_SAMPLES).sort((a, b) => b.samples - a.samples)[0]
    let info: BaselineInfo = { kind: 'concurrent', releases: base ? [base.release] : [], from: cur.from, to: cur.to }
    if (!base && prev) {
      base = prevStats.find((v) => v.name === m.name && v.samples >= MIN_SAMPLES)
      info = { kind: 'previous', releases: [prev.release], from: prev.from, to: prev.to }
    }
    if (!base) return undefined
    // Asked together: the look answers every release's questions in one read.
    const above = await aboveOf({ project, env: r.env, release: r.release, name: m.name, threshold: base.p75, from: cur.from, to: cur.to })
    return evaluateVital({ name: m.name, release: above, baselineP75: base.p75, baseline: { ...info, samples: base.samples }, options })
  })
  return (await Promise.all(judged)).filter((f): f is Finding => f !== undefined)
}
