/** The collector's answers the page reads (collector/src/releases.ts); types only, nothing of the collector is bundled. */
import type { Verdict as VerdictAnswer } from '../../collector/src/detector/index.js'
import type { FlowSeries, FlowStat, ReleaseHealth } from '../../collector/src/health.js'

export type { FlowStat }
export type Verdict = VerdictAnswer['verdict']
export type Firing = { release: string; rule: string; subject: string; summary: string; fired_at: string }
export type ReleaseRow = ReleaseHealth & { verdict: Verdict; reasons: string[]; firing: Firing[] }
export type Overview = {
  project: string
  environment: string
  range: string
  window: { from: string; to: string }
  projects: { id: string; name: string }[]
  environments: string[]
  flows: string[]
  vitals: string[]
  firing: Firing[]
  releases: ReleaseRow[]
  more_releases: number
}
/** What the page's selectors offer. */
export type Choices = Pick<Overview, 'projects' | 'environments'>
export type Series = FlowSeries
export type ErrorGroup = { fingerprint: string; type: string; message: string; stack: string; sessions: number; events: number; handled: boolean; first_seen: string; new_in_release: boolean }
export type Delivery = { notifier: string; type: string; status: string; attempts: number; last_error: string; created: string; updated: string }
export type AlertItem = { dedup_key: string; rule: string; subject: string; status: 'firing' | 'resolved'; summary: string; fired_at: string; resolved_at: string | null; deliveries: Delivery[] }
export type ReleaseDetail = Choices & {
  project: string
  environment: string
  release: string
  range: string
  step_s: number
  first_seen: string | null
  sessions: number
  adoption: number
  crash_free_sessions: number | null
  flows: (FlowStat & { flow: string })[]
  vitals_p75: Record<string, { p75: number; samples: number }>
  series: Series[]
  error_groups: ErrorGroup[]
  alerts: AlertItem[]
  verdict: VerdictAnswer
}
