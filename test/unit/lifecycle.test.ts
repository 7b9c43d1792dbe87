import { describe, expect, it } from 'vitest'
import { NO_TRAFFIC, RECOVERED, rereads, transitions, type LifecycleInput, type LifecycleOptions } from '../../collector/src/detector/lifecycle.js'
import type { Finding } from '../../collector/src/detector/rules.js'
import type { AlertRow } from '../../collector/src/store/index.js'

const MIN = 60_000
const options: LifecycleOptions = { recoveryMs: 10 * MIN, minFiringMs: 2 * MIN, noTrafficMs: 15 * MIN }
const NOW = 1_000 * MIN
/** The release's window starts an hour ago. */
const START = NOW - 60 * MIN

const finding = (decision: Finding['decision'], subject = 'login'): Finding => ({
  rule: 'flow_failure',
  subject,
  severity: 'critical',
  metric: { name: `${subject} failure rate`, unit: 'share of sessions that ran it', value: 0.2, failed: 20, sessions: 100 },
  baseline: null,
  stat: { p0: 0.03, p1: 0.1, llr: decision === 'bad' ? 9 : -4, upper: 6.9, lower: -3, decision: decision === 'unknown' ? 'undecided' : decision },
  decision,
})

const alert = (a: Partial<AlertRow> & Pick<AlertRow, 'status' | 'fired_at'>, subject = 'login'): AlertRow => ({
  project: 'p',
  dedup_key: `p/production/1.1.0/flow_failure/${subject}`,
  env: 'production',
  release: '1.1.0',
  rule: 'flow_failure',
  subject,
  resolved_at: null,
  notified: 1,
  payload: '{}',
  updated: a.fired_at,
  ...a,
})

/** The lifecycle of one release at NOW, with what it read again (none unless given). */
const life = (x: Partial<LifecycleInput> & Pick<LifecycleInput, 'alerts' | 'findings'>) =>
  transitions({ start: START, now: NOW, options, sinceResolution: new Map(), recent: new Map(), lastSeen: NOW, ...x })

describe('alert lifecycle', () => {
  it('fires a bad finding once, and nothing that is not bad', () => {
    const bad = finding('bad')
    expect(life({ alerts: [], findings: [bad, finding('undecided', 'checkout'), finding('healthy', 'search'), finding('unknown', 'cart')] })).toEqual([{ kind: 'fire', finding: bad }])
  })

  it('does not fire again while the alert fires', () => {
    const firing = alert({ status: 'firing', fired_at: NOW - 30 * MIN })
    const recent = new Map([[firing.dedup_key, [finding('bad')]]])
    expect(life({ alerts: [firing], findings: [finding('bad')], recent })).toEqual([])
  })

  it('keeps an alert firing for minFiringMs even when the data says healthy at once (hysteresis), and reads nothing for it until then', () => {
    const young = alert({ status: 'firing', fired_at: NOW - MIN })
    const findings = [finding('healthy')]
    expect(rereads({ alerts: [young], findings, start: START, now: NOW, options }).recent).toEqual([])
    expect(life({ alerts: [young], findings, recent: new Map([[young.dedup_key, findings]]), lastSeen: NOW - 60 * MIN })).toEqual([])
    // Once it has fired minFiringMs, the recent span (since it fired, at most recoveryMs) is read.
    const old = alert({ status: 'firing', fired_at: NOW - options.minFiringMs })
    expect(rereads({ alerts: [old], findings, start: START, now: NOW, options }).recent).toEqual([{ alert: old, from: NOW - options.minFiringMs }])
    const older = alert({ status: 'firing', fired_at: NOW - 30 * MIN })
    expect(rereads({ alerts: [older], findings, start: START, now: NOW, options }).recent).toEqual([{ alert: older, from: NOW - options.recoveryMs }])
  })

  it('resolves a firing alert when the recent data says healthy', () => {
    const firing = alert({ status: 'firing', fired_at: NOW - 30 * MIN })
    // The whole window still says bad; the recent span decides.
    expect(life({ alerts: [firing], findings: [finding('bad')], recent: new Map([[firing.dedup_key, [finding('healthy')]]]) })).toEqual([
      { kind: 'resolve', alert: firing, reason: RECOVERED },
    ])
    expect(life({ alerts: [firing], findings: [finding('bad')], recent: new Map([[firing.dedup_key, [finding('undecided')]]]) })).toEqual([])
    // A healthy finding on another subject does not resolve it.
    expect(life({ alerts: [firing], findings: [], recent: new Map([[firing.dedup_key, [finding('healthy', 'checkout')]]]) })).toEqual([])
  })

  it('resolves a firing alert when the release has had no traffic for noTrafficMs', () => {
    const firing = alert({ status: 'firing', fired_at: NOW - 60 * MIN })
    const recent = new Map([[firing.dedup_key, [finding('undecided')]]])
    expect(life({ alerts: [firing], findings: [], recent, lastSeen: NOW - options.noTrafficMs })).toEqual([{ kind: 'resolve', alert: firing, reason: NO_TRAFFIC }])
    expect(life({ alerts: [firing], findings: [], recent, lastSeen: NOW - options.noTrafficMs + 1 })).toEqual([])
  })

  it('after a resolution, fires again only on the data since', () => {
    const resolved = alert({ status: 'resolved', fired_at: NOW - 50 * MIN, resolved_at: NOW - 20 * MIN })
    const findings = [finding('bad')]
    // The whole window says bad; the data since the resolution is read and decides.
    expect(rereads({ alerts: [resolved], findings, start: START, now: NOW, options }).sinceResolution).toEqual([{ alert: resolved, from: NOW - 20 * MIN }])
    expect(life({ alerts: [resolved], findings, sinceResolution: new Map([[resolved.dedup_key, [finding('undecided')]]]) })).toEqual([])
    const again = finding('bad')
    expect(life({ alerts: [resolved], findings, sinceResolution: new Map([[resolved.dedup_key, [again]]]) })).toEqual([{ kind: 'fire', finding: again }])
    // Resolved before the release's window started: the whole window is since, nothing is read again.
    const before = alert({ status: 'resolved', fired_at: START - 50 * MIN, resolved_at: START - MIN })
    expect(rereads({ alerts: [before], findings, start: START, now: NOW, options }).sinceResolution).toEqual([])
    expect(life({ alerts: [before], findings })).toEqual([{ kind: 'fire', finding: findings[0] }])
  })

  it('fires before it resolves, each in order', () => {
    const a = alert({ status: 'firing', fired_at: NOW - 30 * MIN }, 'checkout')
    const b = finding('bad', 'login')
    const c = finding('bad', 'search')
    expect(life({ alerts: [a], findings: [b, c], recent: new Map([[a.dedup_key, [finding('healthy', 'checkout')]]]) }).map((t) => t.kind)).toEqual(['fire', 'fire', 'resolve'])
  })
})
