import type { ErrorGroup, FlowSessions, Judged, SessionCrashes, VitalAbove } from '../store/types.js'
import { defaultSprtParams, hypotheses, sprtTest, wilsonUpper, type Counts, type SprtParams, type SprtResult } from './sprt.js'

export type Rule = 'flow_failure' | 'flow_threshold' | 'request_failure' | 'crash_rate' | 'new_error_group' | 'vital_regression'

/** What a release is compared with, and over which span. */
export type BaselineInfo = { kind: 'concurrent' | 'previous'; releases: string[]; from: number; to: number }

/** Numbers of one window, for every release of one environment. */
export type WindowData = { from: number; to: number; crashes: SessionCrashes[]; flows: FlowSessions[]; groups: ErrorGroup[] }
/** A window's counts without its error groups: what a baseline reads. */
export type WindowCounts = Omit<WindowData, 'groups'>
/** The previous release's recent history. */
export type PreviousWindow = WindowCounts & { release: string }

export type Finding = {
  rule: Rule
  /** The flow, the endpoint (`GET /api/plans/:id`), the error group's fingerprint, the vital; '' for the crash rate. */
  subject: string
  severity: 'critical' | 'warning'
  metric: { name: string; unit: string; value: number; failed: number; sessions: number }
  baseline: (BaselineInfo & { value: number; failed: number; sessions: number }) | null
  stat: SprtResult
  /** `unknown`: no baseline to compare with. */
  decision: SprtResult['decision'] | 'unknown'
  /** For error groups: what on-call needs to recognise it. */
  sample?: { type: string; message: string; stack: string }
}

export type RuleOptions = {
  sprt: SprtParams
  minBaselineSessions: number
  /** Absolute limits per flow (VIGIL_FLOW_THRESHOLDS, e.g. login=0.05), for teams that want them besides the comparison. */
  flowThresholds: Record<string, number>
}
export const defaultRuleOptions: RuleOptions = { sprt: defaultSprtParams, minBaselineSessions: 20, flowThresholds: {} }

const add = (a: Counts, b: Counts): Counts => ({ sessions: a.sessions + b.sessions, failed: a.failed + b.failed })
const none: Counts = { sessions: 0, failed: 0 }
/** Counts as judged, with the plain ones people read. */
type Judging = Counts & { plain: Counts }
const sum = (xs: Judging[]): Judging => xs.reduce((t, c) => ({ ...add(t, c), plain: add(t.plain, c.plain) }), { ...none, plain: none })
const rate = (c: Counts) => (c.sessions > 0 ? c.failed / c.sessions : 0)

/** Judged counts with the networks with the most failures counted as one session each. */
const robustOf = (j: Judged): Counts => ({ sessions: j.judgedSessions - j.topSessions, failed: j.judgedFailed - j.topFailed })
const plainOf = (c: Counts): Counts => ({ sessions: c.sessions, failed: c.failed })
/** A release's counts as judged (Judged: each network's weight bounded). */
const judging = (plain: Counts, j: Judged): Judging => ({ sessions: j.judgedSessions, failed: j.judgedFailed, robust: robustOf(j), plain: plainOf(plain) })
/**
 * A baseline's counts as judged, its networks with the most failures counted as one session each:
 * a few networks cannot raise the baseline (and so hide a bad release) either.
 */
const judged = (plain: Counts, j: Judged): Judging => ({ ...robustOf(j), plain: plainOf(plain) })
const crashes = (h: SessionCrashes) => judged({ sessions: h.sessions, failed: h.crashed }, h)
const failures = (f: FlowSessions) => judged(f, f)

type Candidate = { releases: string[]; counts: Judging; from: number; to: number }

/**
 * The baseline for one metric: the releases that arrived before this one, concurrent with it
 * (baseline.ts), when they have enough sessions (during a rollout this cancels time of day and
 * incidents that hit every release alike); otherwise the previous release over its recent
 * history; otherwise none.
 */
const pick = (c: Candidate, previous: Candidate | undefined, min: number): (BaselineInfo & Judging) | null => {
  if (c.counts.sessions >= min) return { kind: 'concurrent', releases: c.releases, from: c.from, to: c.to, ...c.counts }
  if (previous && previous.counts.sessions >= min) return { kind: 'previous', releases: previous.releases, from: previous.from, to: previous.to, ...previous.counts }
  return null
}

/** One rate against its baseline. */
type Test = {
  rule: Rule
  subject: string
  severity: Finding['severity']
  /** The metric's name and unit, as people read them. */
  name: string
  unit: string
  release: Judging
  baseline: (BaselineInfo & Judging) | null
  options: RuleOptions
  /** For new error groups: there is no baseline rate, the floor is the baseline. */
  fixedBaselineRate?: number
}

const test = ({ rule, subject, severity, name, unit, release, baseline, options, fixedBaselineRate }: Test): Finding => {
  // What is tolerated starts from the baseline's plausible upper rate, not its point estimate: the
  // baseline's own noise must not page anyone. What is worth a page starts from its rate.
  const b = fixedBaselineRate ?? (baseline ? rate(baseline) : 0)
  const upper = baseline ? wilsonUpper(baseline.failed, baseline.sessions) : b
  const h = hypotheses(b, options.sprt, baseline?.kind === 'previous' ? 3 : 1.5, upper)
  const stat = sprtTest(release, h.p0, h.p1, options.sprt)
  const known = baseline !== null || fixedBaselineRate !== undefined
  return {
    rule,
    subject,
    severity,
    metric: { name, unit, value: rate(release.plain), failed: release.plain.failed, sessions: release.plain.sessions },
    baseline: baseline ? { kind: baseline.kind, releases: baseline.releases, from: baseline.from, to: baseline.to, value: rate(baseline.plain), failed: baseline.plain.failed, sessions: baseline.plain.sessions } : null,
    stat,
    decision: known ? stat.decision : 'unknown',
  }
}

/** What one release is judged on. */
export type ReleaseInput = {
  release: string
  /** Every release of the environment over the release's window. */
  cur: WindowData
  /** The previous release's recent history, when there is one. */
  prev?: PreviousWindow
  options?: RuleOptions
  /**
   * The releases that appeared before this one: only they can be its concurrent baseline (an old
   * release is not judged by the first sessions of the release that replaces it), and only
   * against them is an error group new (without `older`, none is judged).
   */
  older?: ReadonlySet<string>
  /** The concurrent baseline's rows (baseline.ts; default: the same as `cur`). */
  base?: WindowCounts
}

/**
 * Every rule for one release: each flow's failure rate, each endpoint's (its requests), the crash
 * rate (sessions with an unhandled error), and each error group new in this release
 * (newInRelease), against its baseline.
 */
export const evaluateRelease = ({ release, cur, prev, options = defaultRuleOptions, older, base = cur }: ReleaseInput): Finding[] => {
  const eligible = (r: string) => r !== release && (!older || older.has(r))
  const own = cur.crashes.find((h) => h.release === release)
  const judge = { release, cur, prev, options, base, eligible }
  return [
    ...(own ? [crashRate(judge, own)] : []),
    ...cur.flows.filter((x) => x.release === release).flatMap((f) => flowFindings(judge, f)),
    ...(own && older ? newErrorGroups(judge, own, older) : []),
  ]
}

/** One release's inputs, with the releases that may be its concurrent baseline. */
type Judge = Required<Omit<ReleaseInput, 'prev' | 'older'>> & Pick<ReleaseInput, 'prev'> & { eligible: (release: string) => boolean }

const others = (j: Judge, rows: { release: string }[]) => [...new Set(rows.filter((r) => j.eligible(r.release)).map((r) => r.release))].sort()

/** Crash rate: sessions with an unhandled error. */
const crashRate = (j: Judge, own: SessionCrashes): Finding => {
  const { base, prev } = j
  const rows = base.crashes.filter((h) => j.eligible(h.release) && h.sessions > 0)
  const baseline = pick(
    { releases: others(j, rows), counts: sum(rows.map(crashes)), from: base.from, to: base.to },
    prev && (() => {
      const p = prev.crashes.find((h) => h.release === prev.release)
      return p ? { releases: [prev.release], counts: crashes(p), from: prev.from, to: prev.to } : undefined
    })(),
    j.options.minBaselineSessions,
  )
  const release = judging({ sessions: own.sessions, failed: own.crashed }, own)
  return test({ rule: 'crash_rate', subject: '', severity: 'critical', name: 'sessions with an unhandled error', unit: 'share of sessions', release, baseline, options: j.options })
}

/**
 * A flow the release ran, or an endpoint it called (a request: judged the same way, on the sessions
 * that called it), including those only it has (then only a previous release can be its baseline).
 */
const flowFindings = (j: Judge, f: FlowSessions): Finding[] => {
  const { base, prev, options } = j
  const same = (x: FlowSessions) => x.flow === f.flow && x.kind === f.kind
  const rows = base.flows.filter((x) => same(x) && j.eligible(x.release) && x.sessions > 0)
  const p = prev?.flows.find((x) => same(x) && x.release === prev.release)
  const baseline = pick(
    { releases: others(j, rows), counts: sum(rows.map(failures)), from: base.from, to: base.to },
    p && prev ? { releases: [prev.release], counts: failures(p), from: prev.from, to: prev.to } : undefined,
    options.minBaselineSessions,
  )
  const request = f.kind === 'request'
  const out = [
    test({
      rule: request ? 'request_failure' : 'flow_failure',
      subject: f.flow,
      severity: 'critical',
      name: `${f.flow} failure rate`,
      unit: request ? 'share of sessions that called it' : 'share of sessions that ran it',
      release: judging(f, f),
      baseline,
      options,
    }),
  ]
  if (request) return out

  // An absolute limit, when one is set: H0 the rate is at most the limit, H1 it is well above
  // (1.5× the limit, at least 2 points more). No baseline needed.
  const limit = options.flowThresholds[f.flow]
  if (limit !== undefined) {
    const stat = sprtTest(judging(f, f), limit, Math.min(Math.max(1.5 * limit, limit + 0.02), 0.995), options.sprt)
    out.push({
      rule: 'flow_threshold',
      subject: f.flow,
      severity: 'critical',
      metric: { name: `${f.flow} failure rate`, unit: `share of sessions that ran it, against a limit of ${limit}`, value: rate(f), failed: f.failed, sessions: f.sessions },
      baseline: null,
      stat,
      decision: stat.decision,
    })
  }
  return out
}

/**
 * Error groups new in this release: the share of its sessions they reach. Their baseline is
 * "not there" (the floor), so a new group in a growing share of sessions pages quickly. An
 * environment's first release has nothing to be new against: its errors page nobody. A group
 * of stacks whose errors this release's source maps also regrouped (stored before the maps
 * came) is those groups' first errors: they page, it does not page again.
 */
const newErrorGroups = (j: Judge, own: SessionCrashes, older: ReadonlySet<string>): Finding[] => {
  const mine = j.cur.groups.filter((x) => x.release === j.release)
  const regrouped = new Set(mine.filter((x) => !isStackGroup(x)).flatMap((x) => x.stackFingerprints))
  return mine
    .filter((x) => newInRelease(x, older) && !(isStackGroup(x) && regrouped.has(x.fingerprint)))
    .map((g) => {
      const finding = test({
        rule: 'new_error_group',
        subject: g.fingerprint,
        severity: g.handled ? 'warning' : 'critical',
        name: `new ${g.type}: ${g.message.slice(0, 120)}`,
        unit: 'share of sessions',
        release: {
          sessions: own.judgedSessions,
          failed: g.judgedSessions,
          robust: { sessions: own.judgedSessions - g.topSessions, failed: g.judgedSessions - g.topFailed },
          plain: { sessions: own.sessions, failed: g.sessions },
        },
        baseline: null,
        options: j.options,
        fixedBaselineRate: 0,
      })
      return { ...finding, sample: { type: g.type, message: g.message, stack: g.stack } }
    })
}

/** A group of stacks, not regrouped by a source map. */
export const isStackGroup = (g: Pick<ErrorGroup, 'fingerprint' | 'stackFingerprints'>): boolean => g.stackFingerprints.every((s) => s === g.fingerprint)

/**
 * Is the group new in its release: not seen in any release that appeared before it (`older`)?
 * With no older release (an environment's first), nothing is new. A group seen first in a newer
 * release, or in this one and later in an older one, is not new here: it did not come with it.
 */
export const newInRelease = (g: Pick<ErrorGroup, 'seenIn'>, older: ReadonlySet<string>): boolean => older.size > 0 && !g.seenIn.some((s) => older.has(s.release))

/**
 * A web vital's p75 regression, as a sign test: under no change, a quarter of the release's
 * samples lie above the baseline's p75; H0 allows up to 30%, H1 is 45% (the p75 has moved well
 * up). A warning, not a page.
 */
export type VitalInput = {
  /** The vital (LCP, INP, CLS...). */
  name: string
  /** The release's samples, and how many lie above the baseline's p75. */
  release: VitalAbove
  baselineP75: number
  baseline: BaselineInfo & { samples: number }
  options?: RuleOptions
}
export const evaluateVital = ({ name, release: v, baselineP75, baseline, options = defaultRuleOptions }: VitalInput): Finding => {
  const { above, samples } = v
  const stat = sprtTest(judging({ sessions: samples, failed: above }, v), 0.3, 0.45, { ...options.sprt, minFailedSessions: 10 })
  return {
    rule: 'vital_regression',
    subject: name,
    severity: 'warning',
    metric: { name: `${name} p75`, unit: "share of samples above the baseline's p75", value: samples ? above / samples : 0, failed: above, sessions: samples },
    baseline: { ...baseline, value: baselineP75, failed: 0, sessions: baseline.samples },
    stat,
    decision: stat.decision,
  }
}
