/**
 * The Grafana dashboards in dashboards/grafana/ (for the official ClickHouse data source,
 * grafana-clickhouse-datasource 4.x) against the collector's own tables in embedded ClickHouse.
 * Every variable query and every panel query is expanded the way Grafana and the plugin expand
 * it, run, and checked for its columns; the release, flow, error and vitals panels must give the
 * numbers the collector's page gives for the same window, and those the seed was built to give.
 *
 * How a query is expanded, in the plugin's order:
 * 1. Grafana (in the browser) replaces template variables through the plugin's
 *    `applyTemplateVariables`: `${name:singlequote}` quotes each value and escapes `'` as `\'`;
 *    a bare `${name}` / `$name` uses the plugin's own format (a multi-value joins as `'a','b'`,
 *    a single value goes in as it is). A multi-value "All" without an allValue is every option.
 *    https://github.com/grafana/clickhouse-datasource/blob/main/src/data/CHDatasource.ts
 * 2. The plugin's backend replaces its macros (pkg/macros/macros.go, through sqlds: the regex
 *    `\$__name\b(?:\((.*?)\))?`, so arguments end at the first `)`, split on `,` and trimmed):
 *    `$__timeFilter(c)` → `c >= toDateTime(<from s>) AND c <= toDateTime(<to s>)`,
 *    `$__timeFilter_ms(c)` → the same with `fromUnixTimestamp64Milli(<ms>)`, `$__fromTime`,
 *    `$__toTime` (seconds), `$__fromTime_ms`, `$__toTime_ms` (milliseconds, plugin ≥ 4.0.3),
 *    `$__timeInterval(c)` → `toStartOfInterval(toDateTime(c), INTERVAL <interval s> second)`, …
 *    https://github.com/grafana/clickhouse-datasource/blob/main/pkg/macros/macros.go
 *    https://grafana.com/docs/plugins/grafana-clickhouse-datasource/latest/query-editor/#macros
 * Anything starting with `$` left after that fails the test: Grafana would send it to ClickHouse.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AlertRow, Delivery, EventRow } from '../../collector/src/store/index.js'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'
import { eventRow } from '../helpers/eventRow.js'

const DIR = join(import.meta.dirname, '..', '..', 'dashboards', 'grafana')
const PLUGIN = 'grafana-clickhouse-datasource'

type Target = { refId?: string; rawSql?: string; editorType?: string; format?: number; datasource?: { type?: string; uid?: string } }
type Panel = {
  id?: number
  type?: string
  title?: string
  gridPos?: { h?: number; w?: number; x?: number; y?: number }
  datasource?: { type?: string; uid?: string }
  targets?: Target[]
  panels?: Panel[]
}
type Variable = {
  name: string
  type: string
  query?: string | { rawSql?: string }
  datasource?: { type?: string; uid?: string }
  multi?: boolean
  includeAll?: boolean
  refresh?: number
}
type Dashboard = { uid?: string; title?: string; schemaVersion?: number; panels?: Panel[]; templating?: { list?: Variable[] } }

const dashboards = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((file) => ({ file, json: JSON.parse(readFileSync(join(DIR, file), 'utf8')) as Dashboard }))

/** Panels, those inside collapsed rows included. */
const panelsOf = (d: Dashboard): Panel[] => (d.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])])
const queryPanels = (d: Dashboard) => panelsOf(d).filter((p) => p.type !== 'row')
const rawSqlOf = (v: Variable) => (typeof v.query === 'string' ? v.query : (v.query?.rawSql ?? ''))

// ---- the expander ----------------------------------------------------------------------------

type Values = Record<string, string | string[]>
type Window = { from: number; to: number; intervalS: number }

const singlequote = (v: string | string[]) => (Array.isArray(v) ? v : [v]).map((s) => `'${s.replace(/'/g, "\\'")}'`).join(',')
const pluginFormat = (v: string | string[]) => (Array.isArray(v) ? `'${v.join("','")}'` : v)

/** Grafana's template variables, as the plugin asks Grafana to replace them. */
const replaceVariables = (sql: string, values: Values) =>
  sql.replace(/\$\{(\w+)(?::(\w+))?\}|\$(?!__)(\w+)/g, (whole, braced?: string, fmt?: string, bare?: string) => {
    const name = (braced ?? bare)!
    const value = values[name]
    if (value === undefined) return whole // Grafana leaves unknown variables as they are.
    if (fmt === undefined) return pluginFormat(value)
    if (fmt === 'singlequote') return singlequote(value)
    throw new Error(`format ${fmt} of \${${name}} is not one this test knows how Grafana renders`)
  })

const seconds = (ms: number) => `toDateTime(${Math.floor(ms / 1000)})`
const millis = (ms: number) => `fromUnixTimestamp64Milli(${ms})`
const day = (ms: number) => `toDate('${new Date(ms).toISOString().slice(0, 10)}')`

const one = (args: string[]) => {
  if (args.length !== 1) throw new Error(`expected 1 argument, received ${args.length}`)
  return args[0]!
}

/** The plugin's macros (pkg/macros/macros.go), name for name. */
const MACROS: Record<string, (args: string[], w: Window) => string> = {
  fromTime: (_, w) => seconds(w.from),
  toTime: (_, w) => seconds(w.to),
  fromTime_ms: (_, w) => millis(w.from),
  toTime_ms: (_, w) => millis(w.to),
  timeFilter: (args, w) => `${one(args)} >= ${seconds(w.from)} AND ${one(args)} <= ${seconds(w.to)}`,
  timeFilter_ms: (args, w) => `${one(args)} >= ${millis(w.from)} AND ${one(args)} <= ${millis(w.to)}`,
  dateFilter: (args, w) => `${one(args)} >= ${day(w.from)} AND ${one(args)} <= ${day(w.to)}`,
  dateTimeFilter: (args, w) => {
    if (args.length !== 2) throw new Error(`expected 2 arguments, received ${args.length}`)
    const [d, t] = args as [string, string]
    return `(${d} >= ${day(w.from)} AND ${d} <= ${day(w.to)}) AND (${t} >= ${seconds(w.from)} AND ${t} <= ${seconds(w.to)})`
  },
  timeInterval: (args, w) => `toStartOfInterval(toDateTime(${one(args)}), INTERVAL ${Math.max(Math.floor(w.intervalS), 1)} second)`,
  timeInterval_ms: (args, w) => `toStartOfInterval(toDateTime64(${one(args)}, 3), INTERVAL ${Math.max(Math.floor(w.intervalS * 1000), 1)} millisecond)`,
  interval_s: (_, w) => String(Math.max(Math.floor(w.intervalS), 1)),
}
MACROS.dt = MACROS.dateTimeFilter!

const replaceMacros = (sql: string, w: Window) =>
  sql.replace(/\$__(\w+)\b(?:\(([^)]*)\))?/g, (_, name: string, args?: string) => {
    const macro = MACROS[name]
    if (!macro) throw new Error(`$__${name} is not a macro of ${PLUGIN}`)
    return macro(args === undefined ? [] : args.split(',').map((a) => a.trim()), w)
  })

const expand = (sql: string, values: Values, w: Window) => {
  const out = replaceMacros(replaceVariables(sql, values), w)
  const left = /\$\{?\w+/.exec(out)
  if (left) throw new Error(`${left[0]} is left after expansion in:\n${out}`)
  return out
}

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

// What each panel returns, by file and title: a panel or a dashboard added without a line here
// fails the test.
const COLUMNS: Record<string, Record<string, string[]>> = {
  'vigil-release-health.json': {
    Releases: ['release', 'first_seen', 'sessions', 'adoption', 'crash_free_sessions'],
    'Flow failure rate by release': ['release', 'flow', 'sessions', 'failed_sessions', 'failure_rate', 'attempts', 'failures'],
    'Flow failure rate per minute: ${flow}': ['time', 'release', 'flow', 'failure_rate'],
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
  // the first option), and "All" flows: without an allValue, that is every option.
  const values: Values = { project: 'shop', env: 'production', release: '1.1.0', flow: ['checkout', 'login'] }

  beforeAll(async () => {
    // The detector and the outbox stay still: the test writes the alerts and deliveries.
    c = await startCollector({ dataDir: dir.path, evalIntervalMs: 3_600_000 }, { outbox: { pollMs: 3_600_000 } })
    const store = c.app.vigil.store
    for (const rows of seed()) await store.insertEvents(rows)
    await store.saveProject({ id: 'shop', name: 'Shop', ingestKey: 'vgl_shop', origins: [], previousKey: '', previousKeyUntil: 0, rateLimit: 0, updated: base })
    const alert: AlertRow = {
      project: 'shop', dedup_key: 'shop/production/1.1.0/flow_failure/login', env: 'production', release: '1.1.0', rule: 'flow_failure',
      subject: 'login', status: 'firing', fired_at: base + 6 * MIN, resolved_at: null, notified: 1, payload: '{}', updated: base + 6 * MIN,
    }
    await store.saveAlert(alert)
    // Its newer version: the panel must show only this one.
    await store.saveAlert({ ...alert, status: 'resolved', resolved_at: base + 9 * MIN, updated: base + 9 * MIN })
    await store.saveAlert({ ...alert, dedup_key: 'staging-one', env: 'staging' })
    await store.saveAlert({ ...alert, dedup_key: 'long-ago', status: 'resolved', fired_at: win.from - 120 * MIN, resolved_at: win.from - 60 * MIN, updated: win.from - 60 * MIN })
    const delivery: Delivery = {
      id: 'msg_1:webhook', alert: alert.dedup_key, project: 'shop', notifier: 'webhook', type: 'firing', message: '{}', status: 'pending',
      attempts: 1, next_at: base + 24 * 60 * MIN, last_error: 'HTTP 500', created: base + 6 * MIN, updated: base + 6 * MIN,
    }
    await store.saveDelivery(delivery)
    await store.saveDelivery({ ...delivery, status: 'delivered', attempts: 2, last_error: '', updated: base + 7 * MIN })
    await store.saveDelivery({ ...delivery, id: 'msg_1:slack', notifier: 'slack', status: 'failed', attempts: 8, last_error: 'HTTP 404', updated: base + 8 * MIN })
    await store.saveDelivery({ ...delivery, id: 'staging:webhook', alert: 'staging-one', status: 'delivered', last_error: '' })
  })
  afterAll(async () => {
    await c?.close()
    dir.remove()
  })

  const run = <T = Record<string, unknown>>(sql: string, w = win, v = values) => c.app.vigil.store.sql<T>(expand(sql, v, w))
  const runVariable = async (name: string) => (await run<Record<string, string>>(rawSqlOf(vars[name]!))).map((r) => Object.values(r)[0]!)
  const runPanel = (title: string, w = win, v = values) => {
    const p = panels[title]
    if (!p) throw new Error(`no panel "${title}" in the dashboard`)
    return run(p.targets![0]!.rawSql!, w, v)
  }

  it('the variables list what the seed holds, newest release first', async () => {
    const projects = await runVariable('project')
    expect(projects).toEqual(expect.arrayContaining(['shop', 'other', 'default']))
    expect(projects).toEqual([...projects].sort())
    expect(await runVariable('env')).toEqual(['production', 'staging'])
    // 0.9.0 was last seen before the window.
    expect(await runVariable('release')).toEqual(['1.1.0', '1.0.0'])
    expect(await runVariable('flow')).toEqual(['checkout', 'login'])
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
        const described = await c.app.vigil.store.sql<{ name: string; type: string }>(`DESCRIBE (${sql})`)
        expect(described.map((x) => x.name), p.title).toEqual(expected![p.title!])
        if (p.type === 'timeseries') expect(described[0]!.type, `${p.title}: its first column is its time`).toMatch(/^DateTime/)
        const rows = await c.app.vigil.store.sql(sql)
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

    const health = (await c.app.vigil.store.sessionHealth('shop', win.from, win.to)).filter((h) => h.env === 'production')
    const all = health.reduce((n, h) => n + h.sessions, 0)
    for (const r of rows) {
      const h = health.find((x) => x.release === r.release)!
      expect(r.sessions).toBe(h.sessions)
      expect(r.adoption).toBeCloseTo(h.sessions / all, 10)
      expect(r.crash_free_sessions).toBeCloseTo(1 - h.crashed / h.sessions, 10)
    }
  })

  it('Flow failure rate by release: failed sessions over sessions that ran the flow, as the collector counts them', async () => {
    const rows = (await runPanel('Flow failure rate by release')) as { release: string; flow: string; sessions: number; failed_sessions: number; failure_rate: number; attempts: number; failures: number }[]
    const by = Object.fromEntries(rows.map((r) => [`${r.release} ${r.flow}`, r]))
    expect(Object.keys(by).sort()).toEqual(['1.0.0 checkout', '1.0.0 login', '1.1.0 login'])
    expect(by['1.1.0 login']).toMatchObject({ sessions: 4, failed_sessions: 2, failure_rate: 0.5, attempts: 6, failures: 3 })
    expect(by['1.0.0 checkout']).toMatchObject({ sessions: 4, failed_sessions: 1, failure_rate: 0.25, attempts: 5, failures: 1 })
    expect(by['1.0.0 login']).toMatchObject({ sessions: 8, failed_sessions: 0, failure_rate: 0, attempts: 8, failures: 0 })

    const flows = (await c.app.vigil.store.flowHealth('shop', win.from, win.to)).filter((f) => f.env === 'production')
    expect(flows).toHaveLength(rows.length)
    for (const f of flows) {
      expect(by[`${f.release} ${f.flow}`], `${f.release} ${f.flow}`).toMatchObject({ sessions: f.sessions, failed_sessions: f.failed, attempts: f.attempts, failures: f.failures })
      expect(by[`${f.release} ${f.flow}`]!.failure_rate).toBeCloseTo(f.failed / f.sessions, 10)
    }
  })

  it('Flow failure rate per minute: failed sessions over sessions that ran the flow, per step, release and the flows chosen (as the page charts it)', async () => {
    const title = 'Flow failure rate per minute: ${flow}'
    expect(await runPanel(title)).toEqual([
      { time: at(base), release: '1.0.0', flow: 'login', failure_rate: 0 },
      { time: at(base + MIN), release: '1.0.0', flow: 'checkout', failure_rate: 0.25 },
      { time: at(base + 5 * MIN), release: '1.1.0', flow: 'login', failure_rate: 2 / 3 },
      { time: at(base + 6 * MIN), release: '1.1.0', flow: 'login', failure_rate: 0 },
    ])
    expect(await runPanel(title, win, { ...values, flow: ['checkout'] })).toEqual([{ time: at(base + MIN), release: '1.0.0', flow: 'checkout', failure_rate: 0.25 }])
    // The collector's release page charts the same rates.
    const chart = await c.app.vigil.store.flowSeries('shop', 'production', '1.1.0', [], win.from, win.to, 60)
    expect(chart.map((x) => ({ time: at(x.t * 1000), release: '1.1.0', flow: x.flow, failure_rate: x.failed / x.sessions }))).toEqual(
      (await runPanel(title)).filter((r) => r.release === '1.1.0'),
    )
    // A step of ten minutes pools the minutes in it: 2 failed of 4 sessions when both minutes fall in one step.
    const wide = await runPanel(title, { ...win, intervalS: 600 }, { ...values, flow: ['login'] })
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
    const groups = (await c.app.vigil.store.errorGroups('shop', 'production', win.from, win.to)).filter((g) => g.release === '1.1.0')
    expect(groups).toHaveLength(rows.length)
    for (const g of groups) {
      const r = rows.find((x) => x.fingerprint === g.fingerprint)!
      expect(r).toMatchObject({ sessions: g.sessions, events: g.events, handled: g.handled, new_in_release: g.firstRelease === '1.1.0' ? 1 : 0 })
      expect(Date.parse(`${String(r.first_seen).replace(' ', 'T')}Z`)).toBe(g.firstSeen)
    }
    // fp-old was first seen before the window, in 0.9.0.
    expect(rows.find((x) => x.fingerprint === 'fp-old')!.first_seen).toBe(atMs(win.from - 60 * MIN + 200))
  })

  it('Web vitals: p75 per release, as the collector computes it', async () => {
    const rows = (await runPanel('Web vitals p75 by release')) as { release: string; vital: string; p75: number; samples: number }[]
    expect(rows.map((r) => [r.release, r.vital, r.samples])).toEqual([
      ['1.1.0', 'LCP', 4],
      ['1.0.0', 'LCP', 4],
    ])
    // ClickHouse's quantile interpolates: 2600 + 0.25 × (4100 − 2600).
    expect(rows[0]!.p75).toBeCloseTo(2975, 6)
    const vitals = (await c.app.vigil.store.vitals('shop', win.from, win.to)).filter((v) => v.env === 'production')
    for (const v of vitals) expect(rows.find((r) => r.release === v.release && r.vital === v.name)).toMatchObject({ p75: v.p75, samples: v.samples })
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
})
