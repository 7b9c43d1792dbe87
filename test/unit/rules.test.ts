import { describe, expect, it } from 'vitest'
import { defaultRuleOptions, evaluateRelease, evaluateVital, type WindowData } from '../../collector/src/detector/rules.js'
import type { ErrorGroup } from '../../collector/src/store/index.js'

/** Judged counts as sessions from distinct networks give them: the plain ones (each network one session: nothing to take away). */
const alone = (sessions: number, failed: number) => ({ judgedSessions: sessions, judgedFailed: failed, failedNetworks: failed, topFailed: 0, topSessions: 0 })
const flows = (rows: [release: string, sessions: number, failed: number][]) =>
  rows.map(([release, sessions, failed]) => ({ env: 'production', release, flow: 'login', kind: 'flow' as const, sessions, failed, attempts: sessions, failures: failed, ...alone(sessions, failed) }))
const crashes = (rows: [release: string, sessions: number, crashed: number][]) =>
  rows.map(([release, sessions, crashed]) => ({ env: 'production', release, sessions, crashed, ...alone(sessions, crashed) }))
const window = (w: Partial<WindowData>): WindowData => ({ from: 0, to: 1, crashes: [], flows: [], groups: [], ...w })
const find = (fs: ReturnType<typeof evaluateRelease>, rule: string) => fs.find((f) => f.rule === rule)!

describe('rules', () => {
  it('counts the two networks with the most failures as one session each before calling a release bad: a stranger with the key cannot make it bad', () => {
    type Net = [sessions: number, failed: number]
    // A release's logins by network (each network weighing 20 sessions at most, its failures in proportion).
    const login = (nets: Net[]) => {
      const w = nets.map(([n, k]) => [Math.min(n, 20), (k * Math.min(n, 20)) / n] as const)
      // The two with the most failures count as one session each.
      const top = [...w].filter((x) => x[1] > 0).sort((x, y) => y[1] - x[1]).slice(0, 2)
      const total = (i: 0 | 1, xs: readonly (readonly [number, number])[]) => xs.reduce((t, x) => t + x[i], 0)
      return {
        env: 'production', release: '1.1.0', flow: 'login', kind: 'flow' as const, sessions: total(0, nets), failed: total(1, nets), attempts: 0, failures: 0,
        judgedSessions: total(0, w), judgedFailed: total(1, w), failedNetworks: nets.filter(([, k]) => k > 0).length,
        topFailed: top.reduce((t, [, kw]) => t + kw - Math.min(kw, 1), 0), topSessions: top.reduce((t, [x]) => t + x - 1, 0),
      }
    }
    const judge = (nets: Net[]) =>
      find(evaluateRelease({ release: '1.1.0', cur: window({ crashes: crashes([['1.1.0', 500, 0], ['1.0.0', 2000, 0]]), flows: [login(nets), ...flows([['1.0.0', 2000, 20]])] }) }), 'flow_failure')
    // 500 real users, one in a hundred failing as on the old release, each on a network of their own.
    const real: Net[] = Array.from({ length: 500 }, (_, i) => [1, i % 100 === 0 ? 1 : 0])
    expect(judge(real).decision).not.toBe('bad')
    // A stranger adds 80 failing sessions from one network, then 20 from each of two.
    expect(judge([...real, [80, 80]]).decision).not.toBe('bad')
    expect(judge([...real, [20, 20], [20, 20]]).decision).not.toBe('bad')
    // A real regression: one user in five failing, everywhere.
    const bad = judge(Array.from({ length: 500 }, (_, i) => [1, i % 5 === 0 ? 1 : 0]))
    expect(bad.decision).toBe('bad')
    // What people read are the plain counts.
    expect(bad.metric).toMatchObject({ failed: 100, sessions: 500 })
  })

  it('fires on a flow that fails on the new release and not on the concurrent baseline', () => {
    const f = find(evaluateRelease({ release: '1.1.0', cur: window({ crashes: crashes([['1.1.0', 150, 0], ['1.0.0', 600, 0]]), flows: flows([['1.1.0', 150, 30], ['1.0.0', 600, 12]]) }) }), 'flow_failure')
    expect(f.decision).toBe('bad')
    expect(f.baseline).toMatchObject({ kind: 'concurrent', releases: ['1.0.0'], sessions: 600, failed: 12 })
  })

  it('stays quiet when a shared incident raises failures on every release alike', () => {
    const f = find(evaluateRelease({ release: '1.1.0', cur: window({ crashes: crashes([['1.1.0', 500, 0], ['1.0.0', 2000, 0]]), flows: flows([['1.1.0', 500, 150], ['1.0.0', 2000, 600]]) }) }), 'flow_failure')
    expect(f.decision).not.toBe('bad')
  })

  it('calls a release as good as its baseline healthy once the evidence suffices', () => {
    const f = find(evaluateRelease({ release: '1.1.0', cur: window({ crashes: crashes([['1.1.0', 400, 0], ['1.0.0', 2000, 0]]), flows: flows([['1.1.0', 400, 8], ['1.0.0', 2000, 40]]) }) }), 'flow_failure')
    expect(f.decision).toBe('healthy')
  })

  it('counts failed sessions, not attempts: one user retrying fifty times is one failed session', () => {
    const one = [{ env: 'production', release: '1.1.0', flow: 'login', kind: 'flow' as const, sessions: 300, failed: 1, attempts: 350, failures: 50, ...alone(300, 1) }]
    const f = find(evaluateRelease({ release: '1.1.0', cur: window({ crashes: crashes([['1.1.0', 300, 0], ['1.0.0', 900, 0]]), flows: [...one, ...flows([['1.0.0', 900, 18]])] }) }), 'flow_failure')
    expect(f.decision).not.toBe('bad')
    expect(f.metric).toMatchObject({ failed: 1, sessions: 300 })
  })

  it("falls back to the previous release's history when the release has the traffic alone", () => {
    const cur = window({ crashes: crashes([['1.1.0', 200, 0]]), flows: flows([['1.1.0', 200, 40]]) })
    const prev = { ...window({ from: -10, to: 0, crashes: crashes([['1.0.0', 1000, 0]]), flows: flows([['1.0.0', 1000, 20]]) }), release: '1.0.0' }
    const f = find(evaluateRelease({ release: '1.1.0', cur, prev }), 'flow_failure')
    expect(f.baseline).toMatchObject({ kind: 'previous', releases: ['1.0.0'] })
    expect(f.decision).toBe('bad')
    // With neither, there is no verdict.
    expect(find(evaluateRelease({ release: '1.1.0', cur }), 'flow_failure').decision).toBe('unknown')
  })

  it('pages on a new error group in a fifth of the sessions, not on one seen in earlier releases', () => {
    const group = (release: string, seenIn: string[], sessions: number): ErrorGroup => ({
      env: 'production', release, fingerprint: `fp-${seenIn[0]}`, sessions, events: sessions, type: 'TypeError', message: "Cannot read properties of null (reading 'map')",
      stack: 'TypeError: …', handled: 0, stackFingerprints: [`fp-${seenIn[0]}`], seenIn: seenIn.map((r, i) => ({ release: r, first: i })), firstSeen: 0, firstRelease: seenIn[0]!,
      judgedSessions: sessions, networks: sessions, topFailed: 0, topSessions: 0,
    })
    const cur = window({ crashes: crashes([['1.1.0', 40, 8], ['1.0.0', 300, 0]]), groups: [group('1.1.0', ['1.1.0'], 8), group('1.1.0', ['0.9.0', '1.1.0'], 8)] })
    const fs = evaluateRelease({ release: '1.1.0', cur, options: defaultRuleOptions, older: new Set(['0.9.0', '1.0.0']) }).filter((f) => f.rule === 'new_error_group')
    expect(fs).toHaveLength(1)
    expect(fs[0]).toMatchObject({ subject: 'fp-1.1.0', decision: 'bad', severity: 'critical', sample: { type: 'TypeError' } })
    // Maps a minute late: the bug's first errors are a group of their stacks, new too; it pages once, as the group of its source.
    const stackGroup = { ...group('1.1.0', ['1.1.0'], 3), fingerprint: 'S', stackFingerprints: ['S'] }
    const sourceGroup = { ...group('1.1.0', ['1.1.0'], 8), fingerprint: 'F', stackFingerprints: ['S'] }
    const late = window({ crashes: crashes([['1.1.0', 40, 11], ['1.0.0', 300, 0]]), groups: [stackGroup, sourceGroup] })
    expect(evaluateRelease({ release: '1.1.0', cur: late, options: defaultRuleOptions, older: new Set(['1.0.0']) }).filter((f) => f.rule === 'new_error_group').map((f) => f.subject)).toEqual(['F'])
    // An environment's first release has nothing to be new against.
    const first = window({ crashes: crashes([['1.0.0', 40, 8]]), groups: [group('1.0.0', ['1.0.0'], 8)] })
    expect(evaluateRelease({ release: '1.0.0', cur: first, options: defaultRuleOptions, older: new Set() }).filter((f) => f.rule === 'new_error_group')).toEqual([])
  })

  // Regressions found by bench:detect (false alerts on healthy releases):
  it('does not judge an old release by the first sessions of the release replacing it', () => {
    const data = window({ crashes: crashes([['1.0.0', 4842, 0], ['1.1.0', 21, 0]]), flows: flows([['1.0.0', 4842, 111], ['1.1.0', 21, 0]]) })
    const f = find(evaluateRelease({ release: '1.0.0', cur: data, options: defaultRuleOptions, older: new Set() }), 'flow_failure')
    expect(f.decision).toBe('unknown') // 1.1.0 is newer: no baseline for 1.0.0 here
  })

  it('does not page on a baseline that had no failures only because it was small', () => {
    const data = window({ crashes: crashes([['1.1.0', 1082, 0], ['1.0.0', 46, 0]]), flows: flows([['1.1.0', 1082, 26], ['1.0.0', 46, 0]]) })
    expect(find(evaluateRelease({ release: '1.1.0', cur: data, options: defaultRuleOptions, older: new Set(['1.0.0']) }), 'flow_failure').decision).not.toBe('bad')
  })

  it("tolerates time of day against the previous release's history", () => {
    const cur = window({ crashes: crashes([['1.2.0', 4486, 0]]), flows: flows([['1.2.0', 4486, 140]]) }) // 3.1%
    const prev = { ...window({ from: -10, to: 0, crashes: crashes([['1.1.0', 7345, 0]]), flows: flows([['1.1.0', 7345, 69]]) }), release: '1.1.0' } // 0.9%
    expect(find(evaluateRelease({ release: '1.2.0', cur, prev, options: defaultRuleOptions, older: new Set(['1.1.0']) }), 'flow_failure').decision).not.toBe('bad')
    // A real regression against the same history still pages.
    const bad = window({ crashes: crashes([['1.2.0', 600, 0]]), flows: flows([['1.2.0', 600, 90]]) }) // 15%
    expect(find(evaluateRelease({ release: '1.2.0', cur: bad, prev, options: defaultRuleOptions, older: new Set(['1.1.0']) }), 'flow_failure').decision).toBe('bad')
  })

  it('holds a flow to an absolute limit when one is set', () => {
    const data = window({ crashes: crashes([['1.1.0', 300, 0]]), flows: flows([['1.1.0', 300, 36]]) })
    const opts = { ...defaultRuleOptions, flowThresholds: { login: 0.05 } }
    expect(find(evaluateRelease({ release: '1.1.0', cur: data, options: opts }), 'flow_threshold')).toMatchObject({ decision: 'bad', subject: 'login' }) // 12% > 5%
    const fine = window({ crashes: crashes([['1.1.0', 300, 0]]), flows: flows([['1.1.0', 300, 6]]) })
    expect(find(evaluateRelease({ release: '1.1.0', cur: fine, options: opts }), 'flow_threshold').decision).not.toBe('bad') // 2%
    expect(evaluateRelease({ release: '1.1.0', cur: data }).some((f) => f.rule === 'flow_threshold')).toBe(false) // none set
  })

  it('warns when a web vital p75 moves up, not when it holds', () => {
    const base = { kind: 'concurrent' as const, releases: ['1.0.0'], from: 0, to: 1, samples: 500 }
    expect(evaluateVital({ name: 'LCP', release: { above: 160, samples: 300, ...alone(300, 160) }, baselineP75: 2500, baseline: base }).decision).toBe('bad') // 53% above the old p75
    expect(evaluateVital({ name: 'LCP', release: { above: 78, samples: 300, ...alone(300, 78) }, baselineP75: 2500, baseline: base }).decision).not.toBe('bad') // 26%: as before
    expect(evaluateVital({ name: 'LCP', release: { above: 160, samples: 300, ...alone(300, 160) }, baselineP75: 2500, baseline: base }).severity).toBe('warning')
  })

  it('judges an endpoint as a flow, against the same endpoint only: a flow of the same name is another subject', () => {
    // The endpoint fails in 30% of the sessions that call it on 1.1.0, in 1% on 1.0.0; a flow the
    // app happened to name the same fails as much on both releases.
    const endpoint = (rows: [string, number, number][]) => flows(rows).map((r) => ({ ...r, flow: 'GET /api/plans/:id', kind: 'request' as const }))
    const sameName = flows([['1.1.0', 300, 90], ['1.0.0', 1200, 360]]).map((r) => ({ ...r, flow: 'GET /api/plans/:id' }))
    const cur = window({ crashes: crashes([['1.1.0', 300, 0], ['1.0.0', 1200, 0]]), flows: [...endpoint([['1.1.0', 300, 90], ['1.0.0', 1200, 12]]), ...sameName] })
    const found = evaluateRelease({ release: '1.1.0', cur, options: { ...defaultRuleOptions, flowThresholds: { 'GET /api/plans/:id': 0.5 } } })
    const request = find(found, 'request_failure')
    expect(request).toMatchObject({ subject: 'GET /api/plans/:id', decision: 'bad', baseline: { releases: ['1.0.0'], failed: 12, sessions: 1200 } })
    expect(find(found, 'flow_failure')).toMatchObject({ baseline: { failed: 360, sessions: 1200 } })
    expect(find(found, 'flow_failure').decision).not.toBe('bad')
    // A flow's absolute limit is a flow's: not applied to the endpoint of the same name.
    expect(found.filter((f) => f.rule === 'flow_threshold')).toHaveLength(1)
  })
})
