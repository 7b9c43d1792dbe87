/**
 * The Grafana dashboards in dashboards/grafana/, read, and their queries expanded the way Grafana
 * and the ClickHouse data source plugin (grafana-clickhouse-datasource 4.x) expand them, to run
 * against the collector's own tables.
 *
 * How a query is expanded, in the plugin's order:
 * 1. Grafana (in the browser) replaces template variables through the plugin's
 *    `applyTemplateVariables`: a format named in the query wins over the plugin's own; a bare
 *    `${name}` / `$name` uses the plugin's format (a multi-value joins as `'a','b'`, a single value
 *    goes in as it is). A multi-value "All" without an allValue is every option's value.
 *    https://github.com/grafana/clickhouse-datasource/blob/main/src/data/CHDatasource.ts
 *    https://github.com/grafana/scenes/blob/main/packages/scenes/src/variables/interpolation/sceneInterpolator.ts
 *    https://github.com/grafana/scenes/blob/main/packages/scenes/src/variables/variants/MultiValueVariable.ts (getValue)
 *    The formats, from Grafana's format registry (scenes' formatRegistry.ts, the same in
 *    grafana/grafana public/app/features/templating/formatRegistry.ts):
 *    - `percentencode`: a single value goes through `encodeURIComponentStrict` (encodeURIComponent,
 *      then `!'()*` as well), so only `A-Z a-z 0-9 - _ . ~ %` come out; a multi-value is first
 *      joined as `{a,b}` (nothing escaped before the join), then encoded as a whole.
 *    - `singlequote`: quotes each value and turns `'` into `\'`, and nothing else: a backslash is
 *      left as it is, so in ClickHouse (where `\` escapes) a value can close its own string. The
 *      dashboards therefore use only `decodeURLComponent('${name:percentencode}')`.
 *    A variable query's rows become options as the plugin's `metricFindQuery` makes them: with one
 *    column, it is both value and text; with more, the first is the value and the second the text.
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

const DIR = join(import.meta.dirname, '..', '..', 'dashboards', 'grafana')
export const PLUGIN = 'grafana-clickhouse-datasource'

export type Target = { refId?: string; rawSql?: string; editorType?: string; format?: number; datasource?: { type?: string; uid?: string } }
export type Panel = {
  id?: number
  type?: string
  title?: string
  gridPos?: { h?: number; w?: number; x?: number; y?: number }
  datasource?: { type?: string; uid?: string }
  targets?: Target[]
  panels?: Panel[]
}
export type Variable = {
  name: string
  type: string
  query?: string | { rawSql?: string }
  datasource?: { type?: string; uid?: string }
  multi?: boolean
  includeAll?: boolean
  refresh?: number
}
export type Dashboard = { uid?: string; title?: string; schemaVersion?: number; panels?: Panel[]; templating?: { list?: Variable[] } }

export const dashboards = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((file) => ({ file, json: JSON.parse(readFileSync(join(DIR, file), 'utf8')) as Dashboard }))

/** Panels, those inside collapsed rows included. */
export const panelsOf = (d: Dashboard): Panel[] => (d.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])])
export const queryPanels = (d: Dashboard) => panelsOf(d).filter((p) => p.type !== 'row')
export const rawSqlOf = (v: Variable) => (typeof v.query === 'string' ? v.query : (v.query?.rawSql ?? ''))

// ---- the expander ----------------------------------------------------------------------------

export type Values = Record<string, string | string[]>
export type Window = { from: number; to: number; intervalS: number }

export const singlequote = (v: string | string[]) => (Array.isArray(v) ? v : [v]).map((s) => `'${s.replace(/'/g, "\\'")}'`).join(',')
const pluginFormat = (v: string | string[]) => (Array.isArray(v) ? `'${v.join("','")}'` : v)
/** Grafana's encodeURIComponentStrict: RFC 3986, so `!`, `'`, `(`, `)` and `*` are encoded too. */
const encodeURIComponentStrict = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
/** Grafana's percentencode: a multi-value is joined as `{a,b}` first ("like glob"), then encoded. */
export const percentencode = (v: string | string[]) => encodeURIComponentStrict(Array.isArray(v) ? `{${v.join(',')}}` : v)

/** Grafana's template variables, as the plugin asks Grafana to replace them. */
const replaceVariables = (sql: string, values: Values) =>
  sql.replace(/\$\{(\w+)(?::(\w+))?\}|\$(?!__)(\w+)/g, (whole, braced?: string, fmt?: string, bare?: string) => {
    const name = (braced ?? bare)!
    const value = values[name]
    if (value === undefined) return whole // Grafana leaves unknown variables as they are.
    if (fmt === undefined) return pluginFormat(value)
    if (fmt === 'singlequote') return singlequote(value)
    if (fmt === 'percentencode') return percentencode(value)
    throw new Error(`format ${fmt} of \${${name}} is not one this test knows how Grafana renders`)
  })

const seconds = (ms: number) => `toDateTime(${Math.floor(ms / 1000)})`
const millis = (ms: number) => `fromUnixTimestamp64Milli(${ms})`
const day = (ms: number) => `toDate('${new Date(ms).toISOString().slice(0, 10)}')`

export const one = (args: string[]) => {
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

export const expand = (sql: string, values: Values, w: Window) => {
  const out = replaceMacros(replaceVariables(sql, values), w)
  const left = /\$\{?\w+/.exec(out)
  if (left) throw new Error(`${left[0]} is left after expansion in:\n${out}`)
  return out
}

export type Option = { value: string; text: string }
/** A variable query's rows as the plugin's metricFindQuery makes options of them. */
export const optionsOf = (rows: Record<string, unknown>[]): Option[] =>
  rows.map((r) => {
    const [value, text = value] = Object.values(r).map(String) as [string, string?]
    return { value, text }
  })
