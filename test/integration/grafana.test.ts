/**
 * The Grafana dashboards in dashboards/grafana/ (for the official ClickHouse data source,
 * grafana-clickhouse-datasource 4.x) against the collector's own tables in embedded ClickHouse.
 * Every variable query and every panel query is expanded the way Grafana and the plugin expand
 * it, run, and checked for its columns; the release, flow, error and vitals panels must give the
 * numbers the collector's page gives for the same window, and those the seed was built to give.
 * How Grafana and the plugin expand a query: test/helpers/grafana.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { newInRelease } from '../../collector/src/detector/rules.js'
import { releaseNumbers } from '../../collector/src/releaseNumbers.js'
import type { AlertRow, Delivery, EventRow } from '../../collector/src/store/index.js'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'
import { eventRow } from '../helpers/eventRow.js'
import { PLUGIN, type Values, type Window, dashboards, expand, one, optionsOf, panelsOf, percentencode, queryPanels, rawSqlOf, singlequote } from '../helpers/grafana.js'
import { insertEvents, runSql, windowOf } from '../helpers/storeQueries.js'

/** ClickHouse's hex() of a string: its UTF-8 bytes, upper case. */
const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex').toUpperCase()

/** The reviewer's payload: with `singlequote` it closes the string and ORs the filter away. */
const PAYLOAD = "\\'], m.name) OR 1 -- "

// ---- the seed ----------------------------------------------------------------------------------

const MIN = 60_000
// Minute-aligned, half an hour ago: the window below holds all of it, and the TTL none of it.
const base = Math.floor(Date.now() / MIN) * MIN - 30 * MIN
// Grafana's range is in milliseconds; the plugin's second macros drop the fraction.
const win: Window = { from: base - 10 * MIN + 250, to: base + 20 * MIN + 750, intervalS: 60 }
/** How ClickHouse writes a DateTime('UTC') and a DateTime64(3, 'UTC'). */
const at = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ')
const atMs = (ms: number) => new Date(ms).toISOString().slice(0, 23).replace('T', ' ')

const row = (r: Parameters<typeof eventRow>[0]): EventRow =>
  eventRow({ project: 'shop', handled: 1, url: 'https://shop.example/', route: '/', browser: 'Chrome', os: 'Linux', device: 'desktop', ...r })

/**
 * Three hours of one environment, a session every 7 minutes on two releases (each its own insert),
 * some crashing, each with a vital: what a window cutting through minutes and hours reads from the
 * hourly and minute rollups and the events at its edges.
 */
const EDGES_ENV = 'edges'
/** Before the window the other tests read (`win`), so their environments are as they were. */
const EDGES_START = base - 200 * MIN
const edgesSeed = (): EventRow[][] =>
  Array.from({ length: 26 }, (_, i) => {
    const release = i % 3 === 0 ? '2.0.0' : '2.1.0'
    const t = EDGES_START + i * 7 * MIN + i * 1_337
    const s = `e${i}`
    return [
      row({ env: EDGES_ENV, release, kind: 'session', ts: t, session: s, outcome: 'start' }),
      row({ env: EDGES_ENV, release, kind: 'vital', ts: t + 2_000, session: s, name: 'LCP', value: 1_000 + ((i * 379) % 2_000) }),
      ...(i % 4 === 1 ? [row({ env: EDGES_ENV, release, kind: 'error', ts: t + 3_000, session: s, name: 'TypeError', message: 'x is undefined', handled: 0, fingerprint: 'fp-edge' })] : []),
    ]
  })

/** Each session its own insert: the rollups then hold several partial rows per key, as they do in production. */
const seed = (): EventRow[][] => {
  const sessions: EventRow[][] = []
  // 1.0.0: eight sessions log in fine; four of them then check out, a0 failing once before succeeding.
  for (let i = 0; i < 8; i++) {
    const s = `a${i}`
    const t = base + 5_000 + i * 1000
    const rows = [
      row({ release: '1.0.0', kind: 'session', ts: t, session: s, outcome: 'start' }),
      row({ release: '1.0.0', kind: 'flow', ts: t + 100, session: s, name: 'login', outcome: 'ok' }),
    ]
    if (i < 4) {
      const c = base + MIN + 5_000 + i * 1000
      if (i === 0) rows.push(row({ release: '1.0.0', kind: 'flow', ts: c, session: s, name: 'checkout', outcome: 'fail', reason: '502', step: 'pay' }))
      rows.push(row({ release: '1.0.0', kind: 'flow', ts: c + 200, session: s, name: 'checkout', outcome: 'ok' }))
      rows.push(row({ release: '1.0.0', kind: 'vital', ts: c + 300, session: s, name: 'LCP', value: 1000 + i * 100 }))
    }
    if (i === 1) rows.push(row({ release: '1.0.0', kind: 'error', ts: base + MIN + 9_000, session: s, name: 'Error', message: 'cart is empty', fingerprint: 'fp-old' }))
    sessions.push(rows)
  }
  // a8 crashed before the window and is still active in it: a session of the window, not a crash in it.
  sessions.push([
    row({ release: '1.0.0', kind: 'error', ts: win.from - 5 * MIN, session: 'a8', name: 'Error', message: 'boom', fingerprint: 'fp-crash', handled: 0 }),
    row({ release: '1.0.0', kind: 'session', ts: base + 2 * MIN, session: 'a8', outcome: 'visible' }),
  ])
  // 1.1.0, five minutes later: b0 fails login twice then gets in, b1 fails; b2 crashes on a new
  // error. b3 arrives in the next minute.
  const logins = [['fail', 'fail', 'ok'], ['fail'], ['ok'], ['ok']]
  const lcp = [1200, 1800, 2600, 4100]
  for (let i = 0; i < 4; i++) {
    const s = `b${i}`
    const t = base + 5 * MIN + 20_000 + i * 15_000
    const rows = [row({ release: '1.1.0', kind: 'session', ts: t, session: s, outcome: 'start' })]
    logins[i]!.forEach((outcome, k) => rows.push(row({ release: '1.1.0', kind: 'flow', ts: t + 100 + k * 100, session: s, name: 'login', outcome })))
    rows.push(row({ release: '1.1.0', kind: 'vital', ts: t + 500, session: s, name: 'LCP', value: lcp[i]! }))
    if (i === 2) {
      rows.push(row({ release: '1.1.0', kind: 'error', ts: t + 600, session: s, name: 'TypeError', message: "Cannot read properties of undefined (reading 'id')", fingerprint: 'fp-new', handled: 0 }))
    }
    if (i === 3) rows.push(row({ release: '1.1.0', kind: 'error', ts: t + 600, session: s, name: 'Error', message: 'cart is empty', fingerprint: 'fp-old' }))
    sessions.push(rows)
  }
  // What no panel of shop/production in the window may count: another environment, another
  // project, and a release whose only session ended before the window.
  for (let i = 0; i < 2; i++) {
    const t = base + 5 * MIN + 30_000 + i * 1000
    sessions.push([
      row({ env: 'staging', release: '1.1.0', kind: 'session', ts: t, session: `st${i}`, outcome: 'start' }),
      row({ env: 'staging', release: '1.1.0', kind: 'flow', ts: t + 100, session: `st${i}`, name: 'login', outcome: 'fail' }),
      row({ env: 'staging', release: '1.1.0', kind: 'error', ts: t + 200, session: `st${i}`, name: 'RangeError', fingerprint: 'fp-staging', handled: 0 }),
    ])
  }
  sessions.push([
    row({ project: 'other', release: '1.1.0', kind: 'session', ts: base + 5 * MIN, session: 'o0', outcome: 'start' }),
    row({ project: 'other', release: '1.1.0', kind: 'flow', ts: base + 5 * MIN + 100, session: 'o0', name: 'login', outcome: 'fail' }),
  ])
  sessions.push([
    row({ release: '0.9.0', kind: 'session', ts: win.from - 60 * MIN, session: 'old0', outcome: 'start' }),
    row({ release: '0.9.0', kind: 'flow', ts: win.from - 60 * MIN + 100, session: 'old0', name: 'login', outcome: 'fail' }),
    row({ release: '0.9.0', kind: 'error', ts: win.from - 60 * MIN + 200, session: 'old0', name: 'Error', message: 'cart is empty', fingerprint: 'fp-old' }),
  ])
  return sessions
}

// Names as untrusted browser agents may send them: quotes, backslashes, a backslash before a quote,
// SQL comments and the payload. They live in their own environment, six hours before the window
// above, so nothing of it shows in the tests of that window.
const ODD_ENV = "it's \\ env \\' -- " + PAYLOAD
const R_QUOTE = "2.0'"
const R_BACKSLASH = '2.0\\'
/** With `singlequote`, `x.release = '2.0\\' OR 1 -- '…`: the rest of the line (its time filter) is gone. */
const R_DROP = "2.0\\' OR 1 -- "
const R_PAYLOAD = PAYLOAD
const F_QUOTE = "it's"
const F_BACKSLASH = 'back\\slash'
const F_ESCAPED = "\\'"
const F_DASHES = 'a -- b'
const F_PAYLOAD = PAYLOAD
const ODD_MESSAGE = "it's \\' -- broken"
const oddBase = base - 6 * 60 * MIN
const oddWin: Window = { from: oddBase - 10 * MIN + 250, to: oddBase + 20 * MIN + 750, intervalS: 60 }

const oddSeed = (): EventRow[][] => {
  const sessions: EventRow[][] = []
  const add = (project: string, env: string, release: string, session: string, t: number, flows: [string, string][], lcp: number, error?: [string, 0 | 1]) => {
    const r = (x: Omit<Parameters<typeof eventRow>[0], 'release' | 'session'>) => row({ project, env, release, session, ...x })
    const rows = [r({ kind: 'session', ts: t, outcome: 'start' })]
    flows.forEach(([name, outcome], k) => rows.push(r({ kind: 'flow', ts: t + 100 + k * 100, name, outcome })))
    rows.push(r({ kind: 'vital', ts: t + 800, name: 'LCP', value: lcp }))
    if (error) rows.push(r({ kind: 'error', ts: t + 900, name: 'Error', message: ODD_MESSAGE, fingerprint: error[0], handled: error[1] }))
    sessions.push(rows)
  }
  // shop, ODD_ENV: one session a release, a minute apart.
  add('shop', ODD_ENV, R_QUOTE, 'q0', oddBase + 5_000, [[F_QUOTE, 'ok'], [F_BACKSLASH, 'fail']], 1000)
  add('shop', ODD_ENV, R_BACKSLASH, 'k0', oddBase + MIN + 5_000, [[F_ESCAPED, 'ok'], [F_DASHES, 'ok']], 2000)
  add('shop', ODD_ENV, R_DROP, 'd0', oddBase + 2 * MIN + 5_000, [[F_PAYLOAD, 'fail']], 3000, ['fp-odd', 1])
  add('shop', ODD_ENV, R_PAYLOAD, 'p0', oddBase + 3 * MIN + 5_000, [[F_PAYLOAD, 'ok'], [F_QUOTE, 'fail']], 4000, ['fp-odd', 0])
  // R_DROP's session that ended half an hour before the window: only a dropped time filter shows it.
  sessions.push([
    row({ env: ODD_ENV, release: R_DROP, kind: 'session', ts: oddWin.from - 30 * MIN, session: 'd1', outcome: 'start' }),
    row({ env: ODD_ENV, release: R_DROP, kind: 'error', ts: oddWin.from - 30 * MIN + 100, session: 'd1', name: 'RangeError', message: 'long ago', fingerprint: 'fp-ancient', handled: 0 }),
  ])
  // What must not leak: another project under the same names, and shop's production in the same minutes.
  ;[R_QUOTE, R_BACKSLASH, R_DROP, R_PAYLOAD].forEach((release, i) =>
    add('other', ODD_ENV, release, `o${i}`, oddBase + i * MIN + 30_000, [F_QUOTE, F_BACKSLASH, F_ESCAPED, F_DASHES, F_PAYLOAD].map((f) => [f, 'fail']), 9999, ['fp-other', 0]),
  )
  add('shop', 'production', R_PAYLOAD, 'sp0', oddBase + 4 * MIN, [[F_PAYLOAD, 'fail']], 8888, ['fp-production', 0])
  return sessions
}

// Source maps, in their own project: groups its releases' maps made (fingerprint ≠ stack
// fingerprint) and groups of stacks, as the drainer stores them. S: m1 had maps, m2 none, m3 maps —
// m3's new bug shares its stack group with m2's errors, which may have been it. U: every release had
// maps, u2's first errors came before them (they may have been any bug with that stack group) — u3's
// new bug is not new. V: every release had maps, one bug in two browsers' stack groups — v3's new bug
// is new, v2's known one is not.
const mappedSeed = (): EventRow[][] => {
  const error = (release: string, session: string, ts: number, fingerprint: string, stack: string) => [
    row({ project: 'mapped', release, kind: 'session', ts, session, outcome: 'start' }),
    row({ project: 'mapped', release, kind: 'error', ts: ts + 100, session, name: 'TypeError', message: "Cannot read properties of undefined (reading 'map')", fingerprint, stack_fingerprint: stack, handled: 0 }),
  ]
  return [
    error('m1', 'm1a', base + MIN, 'F-old', 'S'),
    error('m2', 'm2a', base + 2 * MIN, 'S', 'S'),
    error('m3', 'm3a', base + 3 * MIN, 'F-old', 'S'),
    error('m3', 'm3b', base + 3 * MIN + 1000, 'F-new', 'S'),
    error('u1', 'u1a', base + 4 * MIN, 'G-old', 'U'),
    error('u2', 'u2a', base + 5 * MIN, 'U', 'U'),
    error('u2', 'u2b', base + 5 * MIN + 1000, 'G-old', 'U'),
    error('u3', 'u3a', base + 6 * MIN, 'G-new', 'U'),
    error('v1', 'v1a', base + 7 * MIN, 'H-old', 'V-chrome'),
    error('v2', 'v2a', base + 8 * MIN, 'H-old', 'V-firefox'),
    error('v3', 'v3a', base + 9 * MIN, 'H-new', 'V-chrome'),
  ]
}

// Baselines, in their own environment three hours before the window above. A release's baseline is
// concurrent, as on the collector's page and in the detector (baseline.ts): the sessions of the
// releases that arrived before it that ran the flow since it appeared (or since the range start, if
// later; but at least the range's last 30 minutes), and those of them that failed it since then.
// 3.9.0 appeared before the range: its baseline starts with the range, so 3.8.0's z0, which failed
// between 3.9.0's first minute and the range start, counts as not failed. The range is 30 minutes:
// 4.0.0's and 4.1.0's baselines span all of it.
const BASE_ENV = 'canary'
const relBase = base - 3 * 60 * MIN
const relWin: Window = { from: relBase - 10 * MIN + 250, to: relBase + 20 * MIN + 750, intervalS: 60 }

const baselineSeed = (): EventRow[][] => {
  const r = (release: string, session: string, ts: number, x: Partial<EventRow> = {}) =>
    row({ env: BASE_ENV, release, session, ts, kind: 'flow', name: 'checkout', outcome: 'ok', ...x })
  const start = (release: string, session: string, ts: number) => r(release, session, ts, { kind: 'session', name: '', outcome: 'start' })
  const fail = { outcome: 'fail', reason: '502', step: 'pay' }
  const T = relBase
  // A session split over two inserts has two partial rows until a merge: the panel merges them.
  return [
    // 3.8.0, first seen 50 minutes before T (before the range): z0 fails after 3.9.0 appeared but
    // before the range, then succeeds in it; z1 fails in the range.
    [start('3.8.0', 'z0', T - 50 * MIN), r('3.8.0', 'z0', T - 30 * MIN, fail)],
    [r('3.8.0', 'z0', T + 4 * MIN)],
    [start('3.8.0', 'z1', T + 5 * MIN), r('3.8.0', 'z1', T + 6 * MIN, fail)],
    // 3.9.0, first seen 40 minutes before T: e0 failed then, and succeeds in the range.
    [start('3.9.0', 'e0', T - 40 * MIN), r('3.9.0', 'e0', T - 40 * MIN + 100, fail)],
    [r('3.9.0', 'e0', T + 3 * MIN)],
    [start('3.9.0', 'e1', T + 5 * MIN), r('3.9.0', 'e1', T + 5 * MIN + 100, fail)],
    [start('3.9.0', 'e2', T + 16 * MIN), r('3.9.0', 'e2', T + 16 * MIN + 100)],
    // 4.0.0, first seen at T: c0 and c1 fail before 4.1.0 appears (c0 then succeeds after it),
    // c3 fails after; c5 starts after the range.
    [start('4.0.0', 'c0', T), r('4.0.0', 'c0', T + MIN, fail)],
    [r('4.0.0', 'c0', T + 12 * MIN)],
    [start('4.0.0', 'c1', T + MIN), r('4.0.0', 'c1', T + MIN + 100, fail)],
    [start('4.0.0', 'c2', T + 2 * MIN), r('4.0.0', 'c2', T + 2 * MIN + 100)],
    [r('4.0.0', 'c2', T + 13 * MIN)],
    [start('4.0.0', 'c3', T + 11 * MIN), r('4.0.0', 'c3', T + 11 * MIN + 100), r('4.0.0', 'c3', T + 14 * MIN, fail)],
    [start('4.0.0', 'c4', T + 15 * MIN), r('4.0.0', 'c4', T + 15 * MIN + 100)],
    [start('4.0.0', 'c5', relWin.to + 2 * MIN), r('4.0.0', 'c5', relWin.to + 2 * MIN + 100, fail)],
    // 4.1.0, first seen 10 minutes after T: half its sessions fail checkout; d0 alone runs search.
    [start('4.1.0', 'd0', T + 10 * MIN), r('4.1.0', 'd0', T + 10 * MIN + 100, fail), r('4.1.0', 'd0', T + 10 * MIN + 200, { name: 'search' })],
    [start('4.1.0', 'd1', T + 11 * MIN), r('4.1.0', 'd1', T + 11 * MIN + 100)],
    [start('4.1.0', 'd2', T + 12 * MIN), r('4.1.0', 'd2', T + 12 * MIN + 100)],
    [start('4.1.0', 'd3', T + 17 * MIN), r('4.1.0', 'd3', T + 17 * MIN + 100, fail)],
  ]
}

// What each panel returns, by file and title: a panel or a dashboard added without a line here
// fails the test.
const COLUMNS: Record<string, Record<string, string[]>> = {
  'vigil-release-health.json': {
    Releases: ['release', 'first_seen', 'sessions', 'adoption', 'crash_free_sessions'],
    'Flow failure rate by release': [
      'release', 'flow', 'sessions', 'failed_sessions', 'failure_rate', 'attempts', 'failures',
      'baseline_sessions', 'baseline_failed_sessions', 'baseline_failure_rate', 'difference',
    ],
    'Flow failure rate per minute: ${flow:text}': ['time', 'release', 'flow', 'failure_rate'],
    'Sessions by release (adoption over time)': ['time', 'release', 'sessions'],
    'Error groups in ${release}': ['fingerprint', 'type', 'message', 'handled', 'sessions', 'events', 'first_seen', 'new_in_release'],
    'Web vitals p75 by release': ['release', 'vital', 'p75', 'samples'],
    Alerts: ['fired_at', 'resolved_at', 'status', 'release', 'rule', 'subject'],
    'Alert deliveries': ['created', 'release', 'rule', 'message', 'notifier', 'status', 'attempts', 'last_error'],
  },
}

describe('Grafana dashboards', () => {
  it('finds the dashboards', () => {
    expect(dashboards.map((d) => d.file)).toContain('vigil-release-health.json')
  })

  describe.each(dashboards)('$file is importable', ({ json }) => {
    it('has a uid, a title, a schema version and a ClickHouse data source variable', () => {
      expect(json.uid).toMatch(/^[\w-]{1,40}$/)
      expect(json.title).toBeTruthy()
      expect(json.schemaVersion).toBeGreaterThanOrEqual(36)
      const vars = json.templating?.list ?? []
      expect(new Set(vars.map((v) => v.name)).size).toBe(vars.length)
      expect(vars.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: PLUGIN })
    })

    it('every panel: a unique id, a place on the grid, the data source variable, SQL targets', () => {
      const panels = panelsOf(json)
      expect(panels.length).toBeGreaterThan(0)
      const ids = panels.map((p) => p.id)
      for (const id of ids) expect(Number.isInteger(id)).toBe(true)
      expect(new Set(ids).size).toBe(ids.length)
      const cells = new Map<string, string>()
      for (const p of panels) {
        const g = p.gridPos
        expect(g, p.title).toBeDefined()
        for (const k of ['h', 'w', 'x', 'y'] as const) expect(Number.isInteger(g?.[k]), `${p.title} gridPos.${k}`).toBe(true)
        expect(g!.x! + g!.w!, p.title).toBeLessThanOrEqual(24)
        // No two panels on the same cell of the grid.
        for (let x = g!.x!; x < g!.x! + g!.w!; x++) {
          for (let y = g!.y!; y < g!.y! + g!.h!; y++) {
            expect(cells.get(`${x},${y}`), `${p.title} overlaps`).toBeUndefined()
            cells.set(`${x},${y}`, p.title ?? '')
          }
        }
      }
      for (const p of queryPanels(json)) {
        expect(p.title).toBeTruthy()
        expect(p.datasource, p.title).toEqual({ type: PLUGIN, uid: '${datasource}' })
        expect(p.targets?.length, p.title).toBeGreaterThan(0)
        const refIds = p.targets!.map((t) => t.refId)
        expect(new Set(refIds).size, p.title).toBe(refIds.length)
        for (const t of p.targets!) {
          expect(t.datasource, p.title).toEqual({ type: PLUGIN, uid: '${datasource}' })
          expect(t.editorType, p.title).toBe('sql')
          expect(t.rawSql?.trim(), p.title).toBeTruthy()
          // The plugin's formats: 0 time series, 1 table.
          expect(t.format, p.title).toBe(p.type === 'timeseries' ? 0 : 1)
        }
      }
    })

    it('no variable reaches SQL but as decodeURLComponent(\'${name:percentencode}\'): no quote or backslash can come out of it', () => {
      const sqls = [
        ...queryPanels(json).flatMap((p) => (p.targets ?? []).map((t) => [p.title, t.rawSql ?? ''])),
        ...(json.templating?.list ?? []).filter((v) => v.type === 'query').map((v) => [`variable ${v.name}`, rawSqlOf(v)]),
      ]
      for (const [where, sql] of sqls) {
        const rest = sql!.replace(/decodeURLComponent\('\$\{\w+:percentencode\}'\)/g, '').replace(/\$__\w+/g, '')
        expect(rest, `${where}: a variable used some other way`).not.toMatch(/\$|\[\[/)
      }
      // Grafana joins a multi-value's values with commas before it encodes them: the values must
      // hold none, so they are the names in hex (the text shows the name).
      for (const v of (json.templating?.list ?? []).filter((x) => x.type === 'query' && x.multi)) {
        expect(rawSqlOf(v), `variable ${v.name}`).toMatch(/^SELECT\s+(--[^\n]*\n\s*)*hex\(/)
      }
    })

    it('every query variable reads the data source variable; one that depends on the time range refreshes with it', () => {
      for (const v of (json.templating?.list ?? []).filter((x) => x.type === 'query')) {
        expect(v.datasource, v.name).toEqual({ type: PLUGIN, uid: '${datasource}' })
        expect(rawSqlOf(v).trim(), v.name).toBeTruthy()
        if (/\$__(time|from|to|date|dt)/.test(rawSqlOf(v))) expect(v.refresh, v.name).toBe(2)
      }
    })
  })

  it('the expander does what the plugin does, and refuses what it does not know', () => {
    const w = { from: 1_415_792_726_123, to: 1_447_328_726_456, intervalS: 30 }
    // The examples of the plugin's documentation.
    expect(expand('$__timeFilter(ts)', {}, w)).toBe('ts >= toDateTime(1415792726) AND ts <= toDateTime(1447328726)')
    expect(expand('$__timeFilter_ms( ts )', {}, w)).toBe('ts >= fromUnixTimestamp64Milli(1415792726123) AND ts <= fromUnixTimestamp64Milli(1447328726456)')
    expect(expand('$__fromTime $__toTime_ms', {}, w)).toBe('toDateTime(1415792726) fromUnixTimestamp64Milli(1447328726456)')
    expect(expand('$__timeInterval(minute)', {}, w)).toBe('toStartOfInterval(toDateTime(minute), INTERVAL 30 second)')
    expect(expand("x IN (${v:singlequote}) AND y = ${w} AND z = $w", { v: ['a', "it's"], w: '1' }, w)).toBe("x IN ('a','it\\'s') AND y = 1 AND z = 1")
    // Grafana's own example (scenes formatRegistry.test.ts): the values joined as {a,b}, then encoded.
    expect(expand('${v:percentencode}', { v: ['foo()bar BAZ', 'test2'] }, w)).toBe('%7Bfoo%28%29bar%20BAZ%2Ctest2%7D')
    expect(expand("x = decodeURLComponent('${v:percentencode}')", { v: PAYLOAD }, w)).toBe("x = decodeURLComponent('%5C%27%5D%2C%20m.name%29%20OR%201%20--%20')")
    expect(expand('${v:percentencode}', { v: ["it's", '$__fromTime', 'a\\b'] }, w)).toBe('%7Bit%27s%2C%24__fromTime%2Ca%5Cb%7D')
    // singlequote escapes the quote but not the backslash before it: the payload closes its string.
    expect(expand('has([${v:singlequote}], m.name)', { v: [PAYLOAD] }, w)).toBe("has(['\\\\'], m.name) OR 1 -- '], m.name)")
    expect(() => expand('$__timeFrom(ts)', {}, w)).toThrow(/not a macro/)
    expect(() => expand('x = ${nope:singlequote}', {}, w)).toThrow(/\$\{nope is left/)
  })
})

describe('Grafana dashboards against the collector’s tables', () => {
  const dir = tempDir()
  let c: Running
  const d = dashboards.find((x) => x.file === 'vigil-release-health.json')!.json
  const vars = Object.fromEntries((d.templating?.list ?? []).map((v) => [v.name, v]))
  const panels = Object.fromEntries(queryPanels(d).map((p) => [p.title!, p]))
  // What a user picks: the seeded project and environment, the newest release (Grafana's default,
  // the first option), and "All" flows: without an allValue, that is every option's value (a
  // flow's value is its name in hex, its text the name).
  const values: Values = { project: 'shop', env: 'production', release: '1.1.0', flow: [hex('checkout'), hex('login')] }

  beforeAll(async () => {
    // The detector and the outbox stay still: the test writes the alerts and deliveries.
    c = await startCollector({ dataDir: dir.path, evalIntervalMs: 3_600_000 }, { outbox: { pollMs: 3_600_000 } })
    const store = c.app.vigil.store
    for (const rows of seed()) await insertEvents(store, rows)
    await store.projects.saveProject({ id: 'shop', name: 'Shop', ingestKey: 'vgl_shop', origins: [], previousKey: '', previousKeyUntil: 0, rateLimit: 0, transactionFlows: {}, uploadToken: '', updated: base })
    const alert: AlertRow = {
      project: 'shop', dedup_key: 'shop/production/1.1.0/flow_failure/login', env: 'production', release: '1.1.0', rule: 'flow_failure',
      subject: 'login', status: 'firing', fired_at: base + 6 * MIN, resolved_at: null, notified: 1, payload: '{}', updated: base + 6 * MIN,
    }
    await store.alerts.saveAlert(alert)
    // Its newer version: the panel must show only this one.
    await store.alerts.saveAlert({ ...alert, status: 'resolved', resolved_at: base + 9 * MIN, updated: base + 9 * MIN })
    await store.alerts.saveAlert({ ...alert, dedup_key: 'staging-one', env: 'staging' })
    await store.alerts.saveAlert({ ...alert, dedup_key: 'long-ago', status: 'resolved', fired_at: win.from - 120 * MIN, resolved_at: win.from - 60 * MIN, updated: win.from - 60 * MIN })
    const delivery: Delivery = {
      id: 'msg_1:webhook', alert: alert.dedup_key, project: 'shop', notifier: 'webhook', type: 'firing', message: '{}', status: 'pending',
      attempts: 1, next_at: base + 24 * 60 * MIN, last_error: 'HTTP 500', created: base + 6 * MIN, updated: base + 6 * MIN,
    }
    await store.alerts.saveDelivery(delivery)
    await store.alerts.saveDelivery({ ...delivery, status: 'delivered', attempts: 2, last_error: '', updated: base + 7 * MIN })
    await store.alerts.saveDelivery({ ...delivery, id: 'msg_1:slack', notifier: 'slack', status: 'failed', attempts: 8, last_error: 'HTTP 404', updated: base + 8 * MIN })
    await store.alerts.saveDelivery({ ...delivery, id: 'staging:webhook', alert: 'staging-one', status: 'delivered', last_error: '' })

    for (const rows of oddSeed()) await insertEvents(store, rows)
    for (const rows of baselineSeed()) await insertEvents(store, rows)
    for (const rows of mappedSeed()) await insertEvents(store, rows)
    for (const rows of edgesSeed()) await insertEvents(store, rows)
    const odd: AlertRow = {
      ...alert, dedup_key: `shop/${ODD_ENV}/${R_DROP}/flow_failure/${F_PAYLOAD}`, env: ODD_ENV, release: R_DROP, subject: F_PAYLOAD,
      fired_at: oddBase + 3 * MIN, updated: oddBase + 3 * MIN,
    }
    await store.alerts.saveAlert(odd)
    await store.alerts.saveAlert({ ...odd, project: 'other', dedup_key: `other/${ODD_ENV}/${R_DROP}/flow_failure/${F_PAYLOAD}` })
    await store.alerts.saveAlert({ ...odd, env: 'production', dedup_key: 'production-odd', status: 'resolved', resolved_at: oddBase + 5 * MIN, updated: oddBase + 5 * MIN })
    const oddDelivery: Delivery = { ...delivery, id: 'odd:webhook', alert: odd.dedup_key, status: 'failed', attempts: 3, last_error: ODD_MESSAGE, created: oddBase + 3 * MIN, updated: oddBase + 4 * MIN }
    await store.alerts.saveDelivery(oddDelivery)
    await store.alerts.saveDelivery({ ...oddDelivery, id: 'other:webhook', project: 'other', alert: `other/${ODD_ENV}/${R_DROP}/flow_failure/${F_PAYLOAD}` })
    await store.alerts.saveDelivery({ ...oddDelivery, id: 'production-odd:webhook', alert: 'production-odd' })
  })
  afterAll(async () => {
    await c?.close()
    dir.remove()
  })

  const run = <T = Record<string, unknown>>(sql: string, w = win, v = values) => runSql<T>(c.app.vigil.store, expand(sql, v, w))
  const runOptions = async (name: string, w = win, v = values) => optionsOf(await run(rawSqlOf(vars[name]!), w, v))
  /** The options' texts: what the drop-down shows. */
  const runVariable = async (name: string, w = win, v = values) => (await runOptions(name, w, v)).map((o) => o.text)
  const runPanel = (title: string, w = win, v = values) => {
    const p = panels[title]
    if (!p) throw new Error(`no panel "${title}" in the dashboard`)
    return run(p.targets![0]!.rawSql!, w, v)
  }

  type FlowRow = {
    release: string
    flow: string
    sessions: number
    failed_sessions: number
    failure_rate: number
    attempts: number
    failures: number
    baseline_sessions: number | null
    baseline_failed_sessions: number | null
    baseline_failure_rate: number | null
    difference: number | null
  }
  /**
   * The flow panel's rows for `env` in `w` against the collector's page (releaseNumbers) for the
   * same window: the same releases and flows, and for each its numbers, baseline and difference.
   */
  const flowsAsOnThePage = async (rows: FlowRow[], env: string, w: Window) => {
    const page = await releaseNumbers(c.app.vigil.store.pages, { project: 'shop', env, from: w.from, to: w.to })
    const stats = page.releases.flatMap((r) => Object.entries(r.flows).map(([flow, f]) => ({ release: r.release, flow, f })))
    expect(sorted(rows.map((r) => ({ release: r.release, flow: r.flow })), ['release', 'flow'])).toEqual(sorted(stats.map(({ release, flow }) => ({ release, flow })), ['release', 'flow']))
    for (const { release, flow, f } of stats) {
      const r = rows.find((x) => x.release === release && x.flow === flow)!
      const where = `${env} ${release} ${flow}`
      expect(r.failure_rate, where).toBeCloseTo(f.failure_rate, 10)
      if (f.baseline === null) {
        expect(r.baseline_failure_rate, where).toBeNull()
        expect(r.difference, where).toBeNull()
      } else {
        expect(r.baseline_failure_rate, where).toBeCloseTo(f.baseline.failure_rate, 10)
        expect(r.difference, where).toBeCloseTo(f.difference!, 10)
      }
      expect(r, where).toMatchObject({
        sessions: f.sessions,
        failed_sessions: f.failed_sessions,
        baseline_sessions: f.baseline?.sessions ?? null,
        baseline_failed_sessions: f.baseline?.failed_sessions ?? null,
      })
    }
    return stats
  }

  it('the variables list what the seed holds, newest release first', async () => {
    const projects = await runVariable('project')
    expect(projects).toEqual(expect.arrayContaining(['shop', 'other', 'default']))
    expect(projects).toEqual([...projects].sort())
    expect(await runVariable('env')).toEqual(['production', 'staging'])
    // 0.9.0 was last seen before the window.
    expect(await runVariable('release')).toEqual(['1.1.0', '1.0.0'])
    expect(await runVariable('flow')).toEqual(['checkout', 'login'])
    // A flow's value is its name in hex: Grafana joins the values of a multi-value with commas,
    // and a name may hold one. The chart's title shows the text.
    expect(await runOptions('flow')).toEqual(['checkout', 'login'].map((f) => ({ value: hex(f), text: f })))
    expect(Object.keys(panels)).toContain('Flow failure rate per minute: ${flow:text}')
    // Each list follows the variables before it.
    expect(await run(rawSqlOf(vars.release!), win, { ...values, env: 'staging' })).toEqual([{ release: '1.1.0' }])
    expect(await run(rawSqlOf(vars.env!), win, { ...values, project: 'other' })).toEqual([{ env: 'production' }])
  })

  // Every dashboard in the folder, its variables set the way Grafana sets them: from their own
  // queries, in order (the seeded project and environment when offered, else the first option;
  // "All" for a multi-value variable).
  it.each(dashboards)('every variable and panel query of $file runs and returns its columns', async ({ file, json }) => {
    const own: Values = {}
    for (const v of (json.templating?.list ?? []).filter((x) => x.type === 'query')) {
      const options = (await run<Record<string, string>>(rawSqlOf(v), win, own)).map((r) => String(Object.values(r)[0]))
      expect(options.length, `variable ${v.name} offers something for the seed`).toBeGreaterThan(0)
      own[v.name] = v.multi ? options : (options.find((o) => o === 'shop' || o === 'production') ?? options[0]!)
    }
    const expected = COLUMNS[file]
    expect(expected, `${file} has its columns listed in this test`).toBeDefined()
    const panels = queryPanels(json)
    expect(panels.map((p) => p.title).sort()).toEqual(Object.keys(expected!).sort())
    for (const p of panels) {
      for (const t of p.targets!) {
        const sql = expand(t.rawSql!, own, win)
        const described = await runSql<{ name: string; type: string }>(c.app.vigil.store, `DESCRIBE (${sql})`)
        expect(described.map((x) => x.name), p.title).toEqual(expected![p.title!])
        if (p.type === 'timeseries') expect(described[0]!.type, `${p.title}: its first column is its time`).toMatch(/^DateTime/)
        const rows = await runSql(c.app.vigil.store, sql)
        expect(rows.length, `${p.title} returns rows for the seed`).toBeGreaterThan(0)
      }
    }
  })

  it('Releases: sessions, adoption and crash-free sessions as the seed made them, and as the collector counts them', async () => {
    const rows = (await runPanel('Releases')) as { release: string; first_seen: string; sessions: number; adoption: number; crash_free_sessions: number }[]
    expect(rows.map((r) => r.release)).toEqual(['1.1.0', '1.0.0'])
    const [b, a] = rows as [(typeof rows)[0], (typeof rows)[0]]
    expect(b).toMatchObject({ sessions: 4, first_seen: atMs(base + 5 * MIN + 20_000) })
    expect(b.adoption).toBeCloseTo(4 / 13, 10)
    expect(b.crash_free_sessions).toBeCloseTo(0.75, 10)
    expect(a).toMatchObject({ sessions: 9, crash_free_sessions: 1 })
    expect(a.adoption).toBeCloseTo(9 / 13, 10)

    const health = (await windowOf(c.app.vigil.store.detector, 'shop', win.from, win.to).crashes()).filter((h) => h.env === 'production')
    const all = health.reduce((n, h) => n + h.sessions, 0)
    for (const r of rows) {
      const h = health.find((x) => x.release === r.release)!
      expect(r.sessions).toBe(h.sessions)
      expect(r.adoption).toBeCloseTo(h.sessions / all, 10)
      expect(r.crash_free_sessions).toBeCloseTo(1 - h.crashed / h.sessions, 10)
    }
  })

  it('Flow failure rate by release: failed sessions over sessions that ran the flow, as the collector counts them', async () => {
    const rows = (await runPanel('Flow failure rate by release')) as FlowRow[]
    const by = Object.fromEntries(rows.map((r) => [`${r.release} ${r.flow}`, r]))
    expect(Object.keys(by).sort()).toEqual(['1.0.0 checkout', '1.0.0 login', '1.1.0 login'])
    expect(by['1.1.0 login']).toMatchObject({ sessions: 4, failed_sessions: 2, failure_rate: 0.5, attempts: 6, failures: 3 })
    expect(by['1.0.0 checkout']).toMatchObject({ sessions: 4, failed_sessions: 1, failure_rate: 0.25, attempts: 5, failures: 1 })
    expect(by['1.0.0 login']).toMatchObject({ sessions: 8, failed_sessions: 0, failure_rate: 0, attempts: 8, failures: 0 })

    const flows = (await windowOf(c.app.vigil.store.detector, 'shop', win.from, win.to).flows()).filter((f) => f.env === 'production')
    expect(flows).toHaveLength(rows.length)
    for (const f of flows) {
      expect(by[`${f.release} ${f.flow}`], `${f.release} ${f.flow}`).toMatchObject({ sessions: f.sessions, failed_sessions: f.failed, attempts: f.attempts, failures: f.failures })
      expect(by[`${f.release} ${f.flow}`]!.failure_rate).toBeCloseTo(f.failed / f.sessions, 10)
    }
    // A baseline spans at least the range's last 30 minutes, as the detector's does (baseline.ts):
    // 1.1.0, minutes old, is compared with 1.0.0's 8 sessions that ran login in them (none failed).
    // 1.0.0 has none: 0.9.0's session ended before the range.
    const none = { baseline_sessions: null, baseline_failed_sessions: null, baseline_failure_rate: null, difference: null }
    expect(by['1.1.0 login']).toMatchObject({ baseline_sessions: 8, baseline_failed_sessions: 0, baseline_failure_rate: 0, difference: 0.5 })
    for (const r of rows.filter((x) => x.release === '1.0.0')) expect(r, `${r.release} ${r.flow}`).toMatchObject(none)
    expect(await flowsAsOnThePage(rows, 'production', win)).toHaveLength(3)
  })

  it('Flow failure rate by release: the baseline of older releases since the release appeared, and the difference, as on the collector’s page', async () => {
    const rows = (await runPanel('Flow failure rate by release', relWin, { ...values, env: BASE_ENV })) as FlowRow[]
    // The collector's page, for the same window, gives the same for every release and flow.
    expect(await flowsAsOnThePage(rows, BASE_ENV, relWin)).toHaveLength(5)
    // And those are what the seed was built to give.
    const got = Object.fromEntries(
      rows.map((r) => [`${r.release} ${r.flow}`, [r.sessions, r.failed_sessions, r.baseline_sessions, r.baseline_failed_sessions]]),
    )
    expect(got).toEqual({
      // The oldest: no baseline.
      '3.8.0 checkout': [2, 1, null, null],
      // First seen before the range: its baseline counts from the range start, so z0's failure
      // between 3.9.0's first minute and the range start does not count.
      '3.9.0 checkout': [3, 1, 2, 1],
      // From the range's last 30 minutes (4.0.0 appeared at T, ten minutes into them): z0 and e0 (their
      // failures, before then, do not count), z1 and e1 (failed), e2.
      '4.0.0 checkout': [5, 3, 5, 2],
      // Ten minutes old at the range's end: its baseline spans the range's last 30 minutes (the
      // detector's minimum, baseline.ts), all of it: z0, z1, e0, e1, e2 and c0–c4 (c5 came after),
      // of which z1, e1, c0, c1 and c3 failed in it.
      '4.1.0 checkout': [4, 2, 10, 5],
      // No older release ran search.
      '4.1.0 search': [1, 0, null, null],
    })
    const by = Object.fromEntries(rows.map((r) => [`${r.release} ${r.flow}`, r]))
    const expected: [string, number | null, number | null][] = [
      ['3.8.0 checkout', null, null],
      ['3.9.0 checkout', 0.5, 1 / 3 - 0.5],
      ['4.0.0 checkout', 0.4, 0.6 - 0.4],
      ['4.1.0 checkout', 0.5, 0],
      ['4.1.0 search', null, null],
    ]
    for (const [key, baseline, difference] of expected) {
      if (baseline === null) expect(by[key], key).toMatchObject({ baseline_failure_rate: null, difference: null })
      else {
        expect(by[key]!.baseline_failure_rate, key).toBeCloseTo(baseline, 10)
        expect(by[key]!.difference, key).toBeCloseTo(difference!, 10)
      }
    }
  })

  it('Flow failure rate per minute: failed sessions over sessions that ran the flow, per step, release and the flows chosen (as the page charts it)', async () => {
    const title = 'Flow failure rate per minute: ${flow:text}'
    expect(await runPanel(title)).toEqual([
      { time: at(base), release: '1.0.0', flow: 'login', failure_rate: 0 },
      { time: at(base + MIN), release: '1.0.0', flow: 'checkout', failure_rate: 0.25 },
      { time: at(base + 5 * MIN), release: '1.1.0', flow: 'login', failure_rate: 2 / 3 },
      { time: at(base + 6 * MIN), release: '1.1.0', flow: 'login', failure_rate: 0 },
    ])
    expect(await runPanel(title, win, { ...values, flow: [hex('checkout')] })).toEqual([{ time: at(base + MIN), release: '1.0.0', flow: 'checkout', failure_rate: 0.25 }])
    // The collector's release page charts the same rates.
    const chart = await c.app.vigil.store.pages.flowSeries('shop', 'production', '1.1.0', [], win.from, win.to, 60)
    expect(chart.map((x) => ({ time: at(x.t * 1000), release: '1.1.0', flow: x.flow, failure_rate: x.failed / x.sessions }))).toEqual(
      (await runPanel(title)).filter((r) => r.release === '1.1.0'),
    )
    // A step of ten minutes pools the minutes in it: 2 failed of 4 sessions when both minutes fall in one step.
    const wide = await runPanel(title, { ...win, intervalS: 600 }, { ...values, flow: [hex('login')] })
    const step = (ms: number) => Math.floor(ms / (10 * MIN))
    expect(wide.filter((r) => r.release === '1.1.0').map((r) => r.failure_rate)).toEqual(step(base + 5 * MIN) === step(base + 6 * MIN) ? [0.5] : [2 / 3, 0])
  })

  it('Sessions by release: sessions of each release per minute', async () => {
    expect(await runPanel('Sessions by release (adoption over time)')).toEqual([
      { time: at(base), release: '1.0.0', sessions: 8 },
      { time: at(base + MIN), release: '1.0.0', sessions: 4 },
      { time: at(base + 2 * MIN), release: '1.0.0', sessions: 1 },
      { time: at(base + 5 * MIN), release: '1.1.0', sessions: 3 },
      { time: at(base + 6 * MIN), release: '1.1.0', sessions: 1 },
    ])
  })

  it('Error groups: the release’s groups, and whether each is new in it, as the collector finds them', async () => {
    const rows = (await runPanel('Error groups in ${release}')) as Record<string, unknown>[]
    expect(rows).toEqual([
      expect.objectContaining({ fingerprint: 'fp-new', type: 'TypeError', message: "Cannot read properties of undefined (reading 'id')", handled: 0, sessions: 1, events: 1, new_in_release: 1 }),
      expect.objectContaining({ fingerprint: 'fp-old', type: 'Error', handled: 1, sessions: 1, events: 1, new_in_release: 0 }),
    ])
    await asTheCollectorFinds('shop', '1.1.0', rows)
    // fp-old was first seen before the window, in 0.9.0.
    expect(rows.find((x) => x.fingerprint === 'fp-old')!.first_seen).toBe(atMs(win.from - 60 * MIN + 200))
  })

  /** The panel's rows for a release are the collector's error groups, new where the collector says new. */
  const asTheCollectorFinds = async (project: string, release: string, rows: Record<string, unknown>[]) => {
    const store = c.app.vigil.store
    const spans = await store.pages.releaseSpans(project, 'production', 0)
    const born = spans.find((x) => x.release === release)!.firstSeen
    const older = new Set(spans.filter((x) => x.firstSeen < born).map((x) => x.release))
    const groups = (await store.detector.errorGroups(project, 'production', win.from, win.to)).filter((g) => g.release === release)
    expect(groups).toHaveLength(rows.length)
    for (const g of groups) {
      const r = rows.find((x) => x.fingerprint === g.fingerprint)!
      expect(r, `${release} ${g.fingerprint}`).toMatchObject({ sessions: g.sessions, events: g.events, handled: g.handled, new_in_release: newInRelease(g, older) ? 1 : 0 })
      expect(Date.parse(`${String(r.first_seen).replace(' ', 'T')}Z`)).toBe(g.firstSeen)
    }
  }

  it('Error groups with source maps: new where the maps can tell, as the collector decides', async () => {
    const values: Values = { project: 'mapped', env: 'production' }
    const fresh: string[] = []
    for (const release of ['m1', 'm2', 'm3', 'u1', 'u2', 'u3', 'v1', 'v2', 'v3']) {
      const rows = (await runPanel('Error groups in ${release}', win, { ...values, release })) as Record<string, unknown>[]
      await asTheCollectorFinds('mapped', release, rows)
      fresh.push(...rows.filter((r) => r.new_in_release === 1).map((r) => `${release} ${String(r.fingerprint)}`))
    }
    // m1 is the first release; F-new could be m2's errors; u1's G-old and v1's H-old are new to the
    // releases before them; G-new could be u2's first errors; H-new is new.
    expect(fresh).toEqual(['u1 G-old', 'v1 H-old', 'v3 H-new'])
  })

  it('Web vitals: p75 per release, as the collector computes it', async () => {
    const rows = (await runPanel('Web vitals p75 by release')) as { release: string; vital: string; p75: number; samples: number }[]
    expect(rows.map((r) => [r.release, r.vital, r.samples])).toEqual([
      ['1.1.0', 'LCP', 4],
      ['1.0.0', 'LCP', 4],
    ])
    // ClickHouse's quantile interpolates: 2600 + 0.25 × (4100 − 2600).
    expect(rows[0]!.p75).toBeCloseTo(2975, 6)
    const vitals = (await windowOf(c.app.vigil.store.detector, 'shop', win.from, win.to).vitals()).filter((v) => v.env === 'production')
    for (const v of vitals) expect(rows.find((r) => r.release === v.release && r.vital === v.name)).toMatchObject({ p75: v.p75, samples: v.samples })
  })

  it('Releases and Web vitals over a window cutting through minutes and hours: as on the page, to the millisecond', async () => {
    // From inside session e2's minute (after its start and its vital) to inside e23's (between its start and its vital).
    const w: Window = { from: EDGES_START + 2 * 7 * MIN + 2 * 1_337 + 2_500, to: EDGES_START + 23 * 7 * MIN + 23 * 1_337 + 1_500, intervalS: 60 }
    const v = { ...values, env: EDGES_ENV }
    const page = await releaseNumbers(c.app.vigil.store.pages, { project: 'shop', env: EDGES_ENV, from: w.from, to: w.to })
    const truth = await runSql<{ release: string; sessions: number; crashed: number }>(
      c.app.vigil.store,
      `SELECT release, uniqExact(session) AS sessions, uniqExactIf(session, kind = 'error' AND handled = 0) AS crashed FROM events
        WHERE project = 'shop' AND env = '${EDGES_ENV}' AND ts >= fromUnixTimestamp64Milli(${w.from}) AND ts <= fromUnixTimestamp64Milli(${w.to}) GROUP BY release`,
    )
    const releases = (await runPanel('Releases', w, v)) as { release: string; sessions: number; adoption: number; crash_free_sessions: number }[]
    expect(releases.map((r) => r.release)).toEqual(['2.1.0', '2.0.0'])
    // e3 to e23 (e23 by its start alone); e2, all before the window's start in its minute, is not.
    expect(releases.reduce((n, r) => n + r.sessions, 0)).toBe(21)
    for (const r of releases) {
      const p = page.releases.find((x) => x.release === r.release)!
      const t = truth.find((x) => x.release === r.release)!
      expect(r.sessions, r.release).toBe(t.sessions)
      expect(r.sessions, r.release).toBe(p.sessions)
      expect(r.adoption, r.release).toBeCloseTo(p.adoption, 10)
      expect(r.crash_free_sessions, r.release).toBeCloseTo(1 - t.crashed / t.sessions, 10)
      expect(r.crash_free_sessions, r.release).toBeCloseTo(p.crash_free_sessions!, 10)
    }
    const vitals = (await runPanel('Web vitals p75 by release', w, v)) as { release: string; vital: string; p75: number; samples: number }[]
    expect(vitals.map((x) => x.release)).toEqual(['2.1.0', '2.0.0'])
    // e3's to e22's: e2's before the window's start, e23's after its end, each in the minute the window cuts.
    expect(vitals.reduce((n, x) => n + x.samples, 0)).toBe(20)
    for (const x of vitals) expect(x, x.release).toMatchObject({ vital: 'LCP', p75: page.releases.find((r) => r.release === x.release)!.vitals_p75.LCP!.p75, samples: page.releases.find((r) => r.release === x.release)!.vitals_p75.LCP!.samples })
  })

  it('Alerts and deliveries: the newest version of each, of this environment, in the range', async () => {
    expect(await runPanel('Alerts')).toEqual([
      {
        fired_at: atMs(base + 6 * MIN),
        resolved_at: atMs(base + 9 * MIN),
        status: 'resolved',
        release: '1.1.0',
        rule: 'flow_failure',
        subject: 'login',
      },
    ])
    const deliveries = (await runPanel('Alert deliveries')) as { notifier: string; status: string; attempts: number; last_error: string }[]
    expect(deliveries.map((x) => [x.notifier, x.status, x.attempts, x.last_error]).sort()).toEqual([
      ['slack', 'failed', 8, 'HTTP 404'],
      ['webhook', 'delivered', 2, ''],
    ])
  })

  // ---- names from untrusted agents ---------------------------------------------------------------

  const byKey = (keys: string[]) => (a: Record<string, unknown>, b: Record<string, unknown>) => {
    for (const k of keys) {
      const x = String(a[k])
      const y = String(b[k])
      if (x !== y) return x < y ? -1 : 1
    }
    return 0
  }
  const sorted = <T extends Record<string, unknown>>(rows: T[], keys: string[]) => [...rows].sort(byKey(keys))
  const ODD_FLOWS = [F_QUOTE, F_BACKSLASH, F_ESCAPED, F_DASHES, F_PAYLOAD]
  const ODD_RELEASES = [R_QUOTE, R_BACKSLASH, R_DROP, R_PAYLOAD]
  const chart = 'Flow failure rate per minute: ${flow:text}'

  /** What each panel must return for shop / ODD_ENV in oddWin: nothing of `other`, of production, or of before the window. */
  const oddExpected = () => {
    const errorGroup = { fingerprint: 'fp-odd', type: 'Error', message: ODD_MESSAGE, sessions: 1, events: 1, first_seen: atMs(oddBase + 2 * MIN + 5_900) }
    return {
      Releases: [
        { release: R_PAYLOAD, first_seen: atMs(oddBase + 3 * MIN + 5_000), sessions: 1, adoption: 0.25, crash_free_sessions: 0 },
        { release: R_BACKSLASH, first_seen: atMs(oddBase + MIN + 5_000), sessions: 1, adoption: 0.25, crash_free_sessions: 1 },
        { release: R_QUOTE, first_seen: atMs(oddBase + 5_000), sessions: 1, adoption: 0.25, crash_free_sessions: 1 },
        // First seen in the session before the window: the rollup's first minute, as on the collector's page.
        { release: R_DROP, first_seen: atMs(oddWin.from - 30 * MIN), sessions: 1, adoption: 0.25, crash_free_sessions: 1 },
      ],
      'Flow failure rate by release': sorted(
        [
          [R_QUOTE, F_QUOTE, 0],
          [R_QUOTE, F_BACKSLASH, 1],
          [R_BACKSLASH, F_ESCAPED, 0],
          [R_BACKSLASH, F_DASHES, 0],
          [R_DROP, F_PAYLOAD, 1],
          [R_PAYLOAD, F_PAYLOAD, 0],
          [R_PAYLOAD, F_QUOTE, 1],
        ].map(([release, flow, failed]) => ({
          release, flow, sessions: 1, failed_sessions: failed, failure_rate: failed, attempts: 1, failures: failed,
          // A baseline spans the window's last 30 minutes (baseline.ts): R_PAYLOAD's flows have the
          // older releases' one session each that ran them (R_DROP failed the payload flow, R_QUOTE
          // did not fail the quote); no older release ran the others.
          ...(release === R_PAYLOAD && flow === F_PAYLOAD
            ? { baseline_sessions: 1, baseline_failed_sessions: 1, baseline_failure_rate: 1, difference: -1 }
            : release === R_PAYLOAD && flow === F_QUOTE
              ? { baseline_sessions: 1, baseline_failed_sessions: 0, baseline_failure_rate: 0, difference: 1 }
              : { baseline_sessions: null, baseline_failed_sessions: null, baseline_failure_rate: null, difference: null }),
        })),
        ['release', 'flow'],
      ),
      [chart]: [
        { time: at(oddBase), release: R_QUOTE, flow: F_QUOTE, failure_rate: 0 },
        { time: at(oddBase), release: R_QUOTE, flow: F_BACKSLASH, failure_rate: 1 },
        { time: at(oddBase + MIN), release: R_BACKSLASH, flow: F_ESCAPED, failure_rate: 0 },
        { time: at(oddBase + MIN), release: R_BACKSLASH, flow: F_DASHES, failure_rate: 0 },
        { time: at(oddBase + 2 * MIN), release: R_DROP, flow: F_PAYLOAD, failure_rate: 1 },
        { time: at(oddBase + 3 * MIN), release: R_PAYLOAD, flow: F_PAYLOAD, failure_rate: 0 },
        { time: at(oddBase + 3 * MIN), release: R_PAYLOAD, flow: F_QUOTE, failure_rate: 1 },
      ],
      'Sessions by release (adoption over time)': ODD_RELEASES.map((release, i) => ({ time: at(oddBase + i * MIN), release, sessions: 1 })),
      'Error groups in ${release}': {
        [R_QUOTE]: [],
        [R_BACKSLASH]: [],
        // Not fp-ancient: its session ended before the window. Not new: R_DROP's session of long ago
        // makes it the environment's first release, new against nothing.
        [R_DROP]: [{ ...errorGroup, handled: 1, new_in_release: 0 }],
        [R_PAYLOAD]: [{ ...errorGroup, handled: 0, new_in_release: 0 }],
      } as Record<string, Record<string, unknown>[]>,
      'Web vitals p75 by release': sorted(
        ODD_RELEASES.map((release, i) => ({ release, vital: 'LCP', p75: 1000 * (i + 1), samples: 1 })),
        ['release'],
      ),
      Alerts: [{ fired_at: atMs(oddBase + 3 * MIN), resolved_at: null, status: 'firing', release: R_DROP, rule: 'flow_failure', subject: F_PAYLOAD }],
      'Alert deliveries': [
        { created: atMs(oddBase + 3 * MIN), release: R_DROP, rule: 'flow_failure', message: 'firing', notifier: 'webhook', status: 'failed', attempts: 3, last_error: ODD_MESSAGE },
      ],
    }
  }

  it('names with quotes, backslashes, comments and the payload are offered as they are, each flow with its hex value', async () => {
    const shop: Values = { project: 'shop' }
    expect(await runVariable('env', oddWin, shop)).toEqual([ODD_ENV, 'production'])
    expect(await runVariable('env', oddWin, { project: 'other' })).toEqual([ODD_ENV])
    const odd: Values = { project: 'shop', env: ODD_ENV }
    // Newest first; R_DROP's session before the window does not count.
    expect(await runOptions('release', oddWin, odd)).toEqual([R_PAYLOAD, R_DROP, R_BACKSLASH, R_QUOTE].map((r) => ({ value: r, text: r })))
    // ClickHouse orders bytes: `\` (0x5C) before `a`.
    expect(await runOptions('flow', oddWin, odd)).toEqual([F_ESCAPED, F_PAYLOAD, F_DASHES, F_BACKSLASH, F_QUOTE].map((f) => ({ value: hex(f), text: f })))
  })

  it('with those names chosen, every panel returns exactly their rows: none of another project, environment or time', async () => {
    const expected = oddExpected()
    const odd: Values = { project: 'shop', env: ODD_ENV }
    const releases = (await runOptions('release', oddWin, odd)).map((o) => o.value)
    const flows = await runOptions('flow', oddWin, odd)
    expect(releases.sort()).toEqual([...ODD_RELEASES].sort())
    // Each release, "All" flows: every panel.
    for (const release of releases) {
      const v: Values = { ...odd, release, flow: flows.map((f) => f.value) }
      for (const title of Object.keys(panels)) {
        const rows = await runPanel(title, oddWin, v)
        const want = title === 'Error groups in ${release}' ? expected[title][release] : expected[title as Exclude<keyof typeof expected, 'Error groups in ${release}'>]
        if (title === 'Flow failure rate by release' || title === 'Web vitals p75 by release') {
          expect(sorted(rows, ['release', 'flow']), `${title} for ${release}`).toEqual(want)
        } else if (title === chart) {
          expect(sorted(rows, ['time', 'release', 'flow']), `${title} for ${release}`).toEqual(sorted(want as Record<string, unknown>[], ['time', 'release', 'flow']))
        } else if (title === 'Error groups in ${release}') {
          expect(rows, `${title} for ${release}`).toEqual((want as Record<string, unknown>[]).map((w) => expect.objectContaining(w)))
        } else {
          expect(rows, `${title} for ${release}`).toEqual(want)
        }
      }
    }
    // Each flow alone, then two of them: the chart shows those flows' rows and no other.
    const all = expected[chart]
    for (const choice of [...flows.map((f) => [f]), [flows[0]!, flows[1]!]]) {
      const rows = await runPanel(chart, oddWin, { ...odd, release: R_DROP, flow: choice.map((f) => f.value) })
      const names = choice.map((f) => f.text)
      expect(sorted(rows, ['time', 'release', 'flow']), names.join(' + ')).toEqual(sorted(all.filter((r) => names.includes(r.flow)), ['time', 'release', 'flow']))
    }
    // A single value given as a string, not an array, is taken the same way.
    expect(sorted(await runPanel(chart, oddWin, { ...odd, flow: hex(F_PAYLOAD) }), ['time'])).toEqual(all.filter((r) => r.flow === F_PAYLOAD))

    // The collector counts the same from the same rows.
    const health = (await windowOf(c.app.vigil.store.detector, 'shop', oddWin.from, oddWin.to).crashes()).filter((h) => h.env === ODD_ENV)
    expect(sorted(health.map((h) => ({ release: h.release, sessions: h.sessions })), ['release'])).toEqual(sorted(ODD_RELEASES.map((release) => ({ release, sessions: 1 })), ['release']))
    await flowsAsOnThePage((await runPanel('Flow failure rate by release', oddWin, odd)) as FlowRow[], ODD_ENV, oddWin)
    const flowSessions = (await windowOf(c.app.vigil.store.detector, 'shop', oddWin.from, oddWin.to).flows()).filter((f) => f.env === ODD_ENV)
    expect(sorted(flowSessions.map((f) => ({ release: f.release, flow: f.flow, failed_sessions: f.failed })), ['release', 'flow'])).toEqual(
      expected['Flow failure rate by release'].map(({ release, flow, failed_sessions }) => ({ release, flow, failed_sessions })),
    )
    const groups = await c.app.vigil.store.detector.errorGroups('shop', ODD_ENV, oddWin.from, oddWin.to)
    expect(sorted(groups.map((g) => ({ release: g.release, fingerprint: g.fingerprint, firstRelease: g.firstRelease })), ['release'])).toEqual(
      sorted([R_DROP, R_PAYLOAD].map((release) => ({ release, fingerprint: 'fp-odd', firstRelease: R_DROP })), ['release']),
    )
  })

  it('a value that is no option (a link can set any) cannot leave its string either', async () => {
    const hostile = [PAYLOAD, R_DROP, "x' OR 1 -- ", "x\\' OR 1 -- ", '\\', "'", '{', '}', ',', '%27', '$__fromTime', "'), 1) OR (1"]
    const odd: Values = { project: 'shop', env: ODD_ENV, release: R_DROP, flow: [hex(F_PAYLOAD)] }
    for (const bad of hostile) {
      // As the environment: there is no such environment, so every panel is empty.
      for (const title of Object.keys(panels)) expect(await runPanel(title, oddWin, { ...odd, env: bad }), `${title}, env ${bad}`).toEqual([])
      // As the release (those that are no release): no error group. As the flow, not in hex: no flow is chosen.
      if (!ODD_RELEASES.includes(bad)) expect(await runPanel('Error groups in ${release}', oddWin, { ...odd, release: bad }), `release ${bad}`).toEqual([])
      expect(await runPanel(chart, oddWin, { ...odd, flow: [bad] }), `flow ${bad}`).toEqual([])
      expect(await runPanel(chart, oddWin, { ...odd, flow: [hex(F_QUOTE), bad] }), `flows ${bad}`).toEqual(oddExpected()[chart].filter((r) => r.flow === F_QUOTE))
    }
  })

  it('singlequote, which the dashboard no longer uses, lets the payload out on this seed: the test would see it', async () => {
    // The chart's filter as it was, only the flow in singlequote: another project's rows come back.
    const filter = `SELECT DISTINCT m.project AS project FROM release_minute AS m
WHERE m.project = decodeURLComponent('\${project:percentencode}') AND m.env = decodeURLComponent('\${env:percentencode}') AND m.kind = 'flow'
  AND FLOWS
  AND $__timeFilter(m.minute)
ORDER BY project`
    const v: Values = { project: 'shop', env: ODD_ENV }
    expect(await run(filter.replace('FLOWS', 'has([${flow:singlequote}], m.name)'), oddWin, { ...v, flow: [F_PAYLOAD] })).toEqual([{ project: 'other' }, { project: 'shop' }])
    const chosen = "has(arrayMap(v -> unhex(v), splitByChar(',', trim(BOTH '{}' FROM decodeURLComponent('${flow:percentencode}')))), m.name)"
    expect(panels[chart]!.targets![0]!.rawSql).toContain(chosen)
    expect(await run(filter.replace('FLOWS', chosen), oddWin, { ...v, flow: [hex(F_PAYLOAD)] })).toEqual([{ project: 'shop' }])
    // The error groups' filter, only the release in singlequote: the time filter and the rest are gone.
    const errors = (release: string) => `SELECT DISTINCT x.project AS project, x.fingerprint AS fingerprint FROM session_errors AS x
WHERE x.project = decodeURLComponent('\${project:percentencode}') AND x.env = decodeURLComponent('\${env:percentencode}') AND x.release = ${release} AND x.last_ts >= $__fromTime_ms
ORDER BY project, fingerprint`
    expect(await run(errors('${release:singlequote}'), oddWin, { ...v, release: R_DROP })).toEqual(
      expect.arrayContaining([{ project: 'shop', fingerprint: 'fp-ancient' }, { project: 'other', fingerprint: 'fp-other' }]),
    )
    expect(await run(errors("decodeURLComponent('${release:percentencode}')"), oddWin, { ...v, release: R_DROP })).toEqual([{ project: 'shop', fingerprint: 'fp-odd' }])
  })
})
