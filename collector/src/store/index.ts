/**
 * All SQL the collector runs lives here (DDL in ./schema.ts). Values go in only as
 * `{name:Type}` parameters. The same code talks to embedded ClickHouse (chDB, the default) or to
 * a ClickHouse server when CLICKHOUSE_URL is set.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { ClickHouseLogLevel, createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client'
import { drainPending } from 'chdb'
import { createChdbConnection } from 'chdb/connection'
import type { Config } from '../config.js'
import { StoreUnavailable } from '../errors.js'
import { groupHistories, type GroupHistory, type GroupSighting } from './groupHistory.js'
import {
  ALERTS,
  DELIVERIES,
  ERROR_RELEASES,
  EVENTS,
  MIGRATIONS,
  PROJECTS,
  RELEASE_MINUTE,
  SESSION_ERRORS,
  SESSION_FLOWS,
  SESSION_HEALTH,
  SOURCEMAPS,
  clusterContext,
  embeddedContext,
  migrations,
  migrationsTable,
  type Kind,
} from './schema.js'

/** One stored event, column for column. Times are epoch milliseconds. */
export type EventRow = {
  project: string
  env: string
  release: string
  kind: Kind
  ts: number
  received: number
  session: string
  batch: string
  name: string
  outcome: string
  value: number
  reason: string
  step: string
  message: string
  stack: string
  handled: 0 | 1
  fingerprint: string
  /** The group as the stack gives it (read only: stored as `fingerprint` unless source maps regrouped the error). */
  stack_fingerprint?: string
  url: string
  /** The URL's path with ids and tokens replaced: `/users/:id/orders`. */
  route: string
  user_agent: string
  browser: string
  os: string
  device: string
  /** The client's network, as a salted hash ('' for a client on the collector's machine): ingest/network.ts. */
  net: string
}

/**
 * The columns of an events row in the order the spool writes them (TabSeparated: ClickHouse
 * reads it ~40% faster than JSONEachRow, and it is ~40% smaller on disk).
 */
export const ROW_COLUMNS = [
  'project', 'env', 'release', 'kind', 'ts', 'received', 'session', 'batch', 'name', 'outcome', 'value', 'reason', 'step',
  'message', 'stack', 'handled', 'fingerprint', 'url', 'route', 'user_agent', 'browser', 'os', 'device', 'net',
] as const satisfies readonly (keyof EventRow)[]

export type EventFilter = { release?: string; kind?: Kind; name?: string }

export type Project = {
  id: string
  name: string
  ingestKey: string
  /** Page origins allowed to send (`https://app.example`, `https://*.example.com`); empty: any. */
  origins: string[]
  /** The key before the last rotation, still accepted until `previousKeyUntil` (epoch ms). */
  previousKey: string
  previousKeyUntil: number
  /** Events per second per key; 0: the collector's default. */
  rateLimit: number
  /** Proves an upload of source maps for this project (secret, unlike the ingest key); '' when none was made. */
  uploadToken: string
  /** Epoch ms of the last change: the newest version of a project wins. */
  updated: number
}

/** A source map as stored: for one minified file (its URL path) of one release. */
export type SourceMapRow = { project: string; release: string; path: string; debug_id: string; map: string; bytes: number; sources: number; uploaded: number }

export type ReleaseSummary = {
  env: string
  release: string
  /**
   * When the collector first received an event of it (epoch ms): what orders releases. Client
   * clocks can be anything; one backdated event must not make a new release "older".
   */
  arrived: number
  /** When it appeared, for its windows: its first event's time, at most APPEARED_BEFORE_ARRIVAL_MS before `arrived`. */
  firstSeen: number
  lastSeen: number
  events: number
  sessions: number
  errors: number
  flows: number
  flowFailures: number
}

/** A release's span in an environment: when it arrived and appeared (as ReleaseSummary), when last seen. */
export type ReleaseSpan = Pick<ReleaseSummary, 'release' | 'arrived' | 'firstSeen' | 'lastSeen'>

/** How long before the collector first received a release its events may say it appeared (offline queues). */
export const APPEARED_BEFORE_ARRIVAL_MS = 6 * 3600_000
/** `arrived` and `firstSeen` of ReleaseSummary, from the release rollup `m`. */
const APPEARED = `toUnixTimestamp64Milli(min(m.first_received)) AS arrived,
        greatest(toUnixTimestamp64Milli(min(m.first_ts)), arrived - ${APPEARED_BEFORE_ARRIVAL_MS}) AS firstSeen`

/**
 * What the detector judges, besides the plain counts: each client network weighs at most
 * SESSIONS_PER_NETWORK sessions, its failures in proportion (its rate kept, its weight bounded);
 * how many networks the failures came from; and what the VIGIL_MIN_FAILING_NETWORKS − 1 networks
 * with the most failures bring beyond one session each (`topFailed`, `topSessions`), which the
 * rules take away before calling a release bad: those few networks, whoever they are, count as
 * one user each and cannot make it bad. A session with no network (this machine, or stored
 * before networks were) is a network of its own.
 */
export type Judged = { judgedSessions: number; judgedFailed: number; failedNetworks: number; topFailed: number; topSessions: number }
/** Sessions active in a window, per release: how many, and how many crashed (an unhandled error) in it. */
export type SessionHealth = { env: string; release: string; sessions: number; crashed: number } & Judged
/** Sessions that ran a flow in a window, per release, and how many of them failed it at least once in it. */
export type FlowHealth = { env: string; release: string; flow: string; sessions: number; failed: number; attempts: number; failures: number } & Judged

/** The most sessions one client network weighs in what the detector judges (Judged). */
export const SESSIONS_PER_NETWORK = 20
/** An error group in a release: sessions affected in the window, and every release the group was seen in (groupHistory). */
export type ErrorGroup = GroupHistory & {
  env: string
  release: string
  fingerprint: string
  sessions: number
  events: number
  type: string
  message: string
  stack: string
  handled: 0 | 1
  /**
   * Sessions with it, each network's weighed as its sessions in the release are (Judged), and how
   * many networks; `topFailed` and `topSessions`: what its networks with the most bring beyond
   * one session each (Judged).
   */
  judgedSessions: number
  networks: number
  topFailed: number
  topSessions: number
}
/** A release's samples of a vital, and how many are above a threshold; judged as failures are (Judged). */
export type VitalAbove = { above: number; samples: number } & Judged
export type VitalStat = { env: string; release: string; name: string; p75: number; samples: number }
export type FlowBaselineRow = { target: string; flow: string; sessions: number; failed: number; releases: string[]; release_count: number }
/** One step of one flow: sessions that ran it in the step, and how many of them failed it there; `base` marks the baseline's releases pooled. */
export type FlowStep = { t: number; flow: string; base: 0 | 1; sessions: number; failed: number }

/** One notifier's delivery of one message, with its attempts so far. */
export type Delivery = {
  id: string
  alert: string
  project: string
  notifier: string
  type: string
  message: string
  status: 'pending' | 'delivered' | 'failed'
  attempts: number
  next_at: number
  last_error: string
  created: number
  updated: number
}

export type AlertRow = {
  project: string
  dedup_key: string
  env: string
  release: string
  rule: string
  subject: string
  status: 'firing' | 'resolved'
  fired_at: number
  resolved_at: number | null
  notified: 0 | 1
  payload: string
  updated: number
}

export type Store = {
  readonly mode: 'embedded' | 'server'
  /** Creates or upgrades the schema; returns the versions it applied. */
  migrate: () => Promise<number[]>
  /** Inserts rows in one insert. With a token, a repeated insert of the same rows is dropped. */
  insertEvents: (rows: EventRow[], dedupToken?: string) => Promise<void>
  /** Inserts TabSeparated rows (ROW_COLUMNS, then stack_fingerprint, empty for the default), a text or its pieces in order, from the spool; a repeated token is dropped. */
  insertRaw: (text: string | string[], dedupToken: string) => Promise<void>
  /** Sets the TTL of events and rollups to `days`, when it differs. */
  applyRetention: (days: number) => Promise<void>
  /** (project, batch id) of events received since `since`: batches a retry must not store again. */
  recentBatches: (since: number) => Promise<{ project: string; batch: string }[]>
  releases: (project: string, env?: string) => Promise<ReleaseSummary[]>
  sessionHealth: (project: string, from: number, to: number) => Promise<SessionHealth[]>
  /** With `release`, that release's only. */
  flowHealth: (project: string, from: number, to: number, release?: string) => Promise<FlowHealth[]>
  /** Error groups per release in the window, most sessions first; with `only`, one release's, at most `only.limit`. */
  errorGroups: (project: string, env: string, from: number, to: number, only?: { release: string; limit: number }) => Promise<ErrorGroup[]>
  /** With `release`, that release's only. */
  vitals: (project: string, from: number, to: number, release?: string) => Promise<VitalStat[]>
  /**
   * Per step (`stepS` seconds, times in epoch seconds), each flow's sessions and failed sessions
   * for `release` (base 0) and for the `baseline` releases pooled (base 1).
   */
  flowSeries: (project: string, env: string, release: string, baseline: string[], from: number, to: number, stepS: number) => Promise<FlowStep[]>
  /**
   * Each target release's baseline per flow: sessions of the `releases` that appeared before it
   * (by `arrived`, epoch ms) active from the target's `since` (its own start in the window) to
   * `to`, pooled, and how many of them failed the flow in that span.
   */
  flowBaselines: (
    project: string,
    env: string,
    targets: { release: string; arrived: number; since: number }[],
    releases: { release: string; arrived: number }[],
    to: number,
  ) => Promise<FlowBaselineRow[]>
  /** When each release of an environment was first and last seen (all time), of those seen since `since`; newest first. */
  releaseSpans: (project: string, env: string, since: number) => Promise<ReleaseSpan[]>
  /** The project's environments, the most recently active first. */
  environments: (project: string) => Promise<string[]>
  /** How many of a release's vital samples in the window are above `threshold`. */
  vitalAbove: (project: string, env: string, release: string, name: string, threshold: number, from: number, to: number) => Promise<VitalAbove>
  countEvents: (project: string, filter?: EventFilter) => Promise<number>
  /** The newest events matching the filter, newest first. */
  events: (project: string, filter?: EventFilter & { limit?: number }) => Promise<EventRow[]>
  projects: () => Promise<Project[]>
  saveProject: (p: Project) => Promise<void>
  alerts: (project?: string) => Promise<AlertRow[]>
  saveAlert: (a: AlertRow) => Promise<void>
  saveDelivery: (d: Delivery) => Promise<void>
  /** What one notifier may send now: each alert's oldest pending delivery to it (an alert's messages go in order), when due at `now`; the longest due first. */
  dueDeliveries: (notifier: string, now: number) => Promise<Delivery[]>
  /** Pending deliveries to notifiers not among `notifiers` (no longer configured). */
  strandedDeliveries: (notifiers: string[]) => Promise<Delivery[]>
  /** A project's deliveries, or those of one alert or of several (dedup keys). */
  deliveries: (project: string, alert?: string | string[]) => Promise<Delivery[]>
  saveSourceMap: (m: SourceMapRow) => Promise<void>
  /** The map text of a release's minified file, by its URL path as stored. */
  sourceMap: (project: string, release: string, path: string) => Promise<string | undefined>
  /** Every release's minified files with a map, of a project (no map text). */
  sourceMapIndex: (project: string) => Promise<{ release: string; path: string }[]>
  /** A release's maps, without their text. */
  sourceMaps: (project: string, release: string) => Promise<Omit<SourceMapRow, 'map'>[]>
  ping: () => Promise<boolean>
  /** A read-only query without parameters, for operators and tests (`EXPLAIN`, `system.*`). */
  sql: <T>(query: string) => Promise<T[]>
  close: () => Promise<void>
}

// Failures reach us as errors and are logged once, by us, with what they mean for events.
const log = { level: ClickHouseLogLevel.OFF }

// Server and chDB defaults differ: say it explicitly, on every query.
const settings: ClickHouseSettings = {
  output_format_json_quote_64bit_integers: 0,
  date_time_input_format: 'best_effort',
}

type ClientConnection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>['connection']>

const rows = async <T>(ch: ClickHouseClient, query: string, query_params: Record<string, unknown> = {}): Promise<T[]> => {
  try {
    const rs = await ch.query({ query, query_params, format: 'JSONEachRow' })
    return await rs.json<T>()
  } catch (err) {
    throw unavailable(err)
  }
}

const connect = (config: Config): { ch: ClickHouseClient; mode: Store['mode']; createDatabase: () => Promise<void> } => {
  const c = config.clickhouse
  if (!c) {
    const path = join(config.dataDir, 'clickhouse')
    mkdirSync(path, { recursive: true })
    // chdb types its Connection with @clickhouse/client-common, the client with its own copy of
    // the same types: identical shapes, different declarations.
    const connection = createChdbConnection({ path }) as unknown as ClientConnection
    // chDB ignores the client's `database` option; the embedded engine has its own directory,
    // so its `default` database is ours.
    return { ch: createClient({ connection, clickhouse_settings: settings, log }), mode: 'embedded', createDatabase: async () => {} }
  }
  const base = { url: c.url, username: c.username, password: c.password, clickhouse_settings: settings, log }
  // The database may not exist yet: it is created, with a client that names none, by migrate().
  const createDatabase = async () => {
    const admin = createClient(base)
    try {
      await admin.command({ query: `CREATE DATABASE IF NOT EXISTS {db:Identifier}`, query_params: { db: c.database } })
    } finally {
      await admin.close()
    }
  }
  return { ch: createClient({ ...base, database: c.database }), mode: 'server', createDatabase }
}

/** A connection that failed (server down, refused, timed out) is a 503 to our callers, not a 500. */
const unavailable = (err: unknown): unknown => {
  const e = err as { code?: string; message?: string; cause?: { code?: string } }
  const code = e?.code ?? e?.cause?.code
  if (typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EPIPE|UND_ERR)/.test(code)) return new StoreUnavailable()
  if (/socket hang up|Timeout error|connect ECONNREFUSED/i.test(e?.message ?? '')) return new StoreUnavailable()
  return err
}

export const openStore = async (config: Config): Promise<Store> => {
  const { ch, mode, createDatabase } = connect(config)
  // One schema, two renderings: plain engines embedded or on one server, Replicated and
  // Distributed tables ON CLUSTER on a cluster.
  const cluster = config.clickhouse?.cluster
  const ctx = cluster ? clusterContext(cluster) : embeddedContext

  /** JSON rows into a table; an unreachable server is a StoreUnavailable. */
  const insert = async (table: string, values: unknown[], clickhouse_settings: ClickHouseSettings = {}) => {
    try {
      await ch.insert({ table, values, format: 'JSONEachRow', clickhouse_settings })
    } catch (err) {
      throw unavailable(err)
    }
  }

  const migrate = async (): Promise<number[]> => {
    await createDatabase()
    for (const statement of migrationsTable(ctx)) await ch.command({ query: statement })
    const done = new Set(
      (await rows<{ version: number }>(ch, `SELECT version FROM ${MIGRATIONS} FINAL`)).map((r) => r.version),
    )
    const applied: number[] = []
    for (const m of migrations) {
      if (done.has(m.version)) continue
      for (const statement of m.up(ctx)) await ch.command({ query: statement })
      await m.data?.({ rows: (query, params) => rows(ch, query, params), insert: (table, values) => insert(table, values) })
      await insert(MIGRATIONS, [{ version: m.version, name: m.name, applied: Date.now() }])
      applied.push(m.version)
    }
    return applied
  }

  const insertEvents = async (values: EventRow[], dedupToken?: string): Promise<void> => {
    if (values.length === 0) return
    await insert(EVENTS, values, dedupToken ? { insert_deduplication_token: dedupToken, deduplicate_blocks_in_dependent_materialized_views: 1 } : {})
  }

  const insertRaw = async (text: string | string[], dedupToken: string): Promise<void> => {
    try {
      const r = await ch.exec({
        // A row regrouped by a source map carries its stack fingerprint last; the others an empty
        // field there, which takes the column's default, their fingerprint.
        query: `INSERT INTO ${EVENTS} (${ROW_COLUMNS.join(', ')}, stack_fingerprint) FORMAT TabSeparated`,
        values: Readable.from(Array.isArray(text) ? text : [text]),
        clickhouse_settings: {
          input_format_tsv_empty_as_default: 1,
          insert_deduplication_token: dedupToken,
          deduplicate_blocks_in_dependent_materialized_views: 1,
          // On a cluster, the insert into the Distributed table returns once the shards have it,
          // so the token reaches them and a replay is dropped there.
          ...(cluster ? { distributed_foreground_insert: 1 } : {}),
        },
      })
      // The answer must be read for the connection to be reused.
      for await (const _ of r.stream) void _
    } catch (err) {
      throw unavailable(err)
    }
  }

  const applyRetention = async (days: number) => {
    if (!Number.isInteger(days) || days < 1) throw new Error(`retention must be a whole number of days, got ${days}`)
    const ttl = {
      [EVENTS]: `toDateTime(ts) + toIntervalDay(${days})`,
      [RELEASE_MINUTE]: `minute + toIntervalDay(${days})`,
      ...Object.fromEntries([SESSION_FLOWS, SESSION_HEALTH, SESSION_ERRORS, ERROR_RELEASES].map((t) => [t, `toDateTime(last_ts) + toIntervalDay(${days})`])),
    }
    for (const [table, expr] of Object.entries(ttl)) {
      const [t] = await rows<{ engine_full: string }>(
        ch,
        `SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {t:String}`,
        { t: cluster ? `${table}_local` : table },
      )
      if (!t || t.engine_full.replace(/\s+/g, '').includes(`TTL${expr}`.replace(/\s+/g, ''))) continue
      // DDL takes no query parameters: `days` is checked to be a whole number above. Only the
      // table's metadata changes now; existing parts follow at their next merge.
      for (const statement of ctx.alter(table, `MODIFY TTL ${expr}`, { sharded: true, localOnly: true })) {
        await ch.command({ query: statement, clickhouse_settings: { materialize_ttl_after_modify: 0 } })
      }
    }
  }

  const recentBatches = async (since: number) =>
    rows<{ project: string; batch: string }>(
      ch,
      `SELECT DISTINCT project, batch FROM ${EVENTS}
      WHERE received >= fromUnixTimestamp64Milli({since:Int64}, 'UTC') AND batch != ''
      LIMIT 200000`,
      { since },
    )

  const at = (name: string) => `fromUnixTimestamp64Milli({${name}:Int64}, 'UTC')`
  /** A session's source (`nt`: its network): the network, or the session itself when it has none. */
  const NETWORK = "if(nt = '', concat('s:', session), nt)"
  // The networks whose failures the rules take away before calling a release bad (Judged).
  const top = Math.max(0, config.minFailingNetworks - 1)
  /** Per source, its weight `w` and its failures' `kw`: the top ones, summed (Judged). */
  const tops = `arraySlice(arrayReverseSort(x -> x.1, arrayFilter(x -> x.1 > 0, groupArray((kw, w)))), 1, ${top})`
  // Each of them counts as one session, failed or not: what they bring beyond that is taken away.
  const topOf = `arraySum(x -> x.1 - least(x.1, 1), ${tops}) AS topFailed, arraySum(x -> x.2 - 1, ${tops}) AS topSessions`
  /** Per source `n` sessions, `k` of them failed: its weight and its failures' (Judged). */
  const weigh = `least(n, ${SESSIONS_PER_NETWORK}) AS w, k * w / n AS kw`
  /** Counts per source (`n`, `k`, `w`, `kw`) to the plain counts and Judged. */
  const judged = (failed: string) => `sum(n) AS sessions, sum(k) AS ${failed},
        sum(w) AS judgedSessions, sum(kw) AS judgedFailed, countIf(k > 0) AS failedNetworks, ${topOf}`

  /**
   * A per-session rollup's rows merged per session (merges are never guaranteed, so a session may
   * have several partial rows): `keys`, `session`, its first activity `f` and `columns`, of the
   * sessions active in [`from`, {to}] (a row whose last activity is before the window cannot bring
   * anything into it). `where`: more conditions.
   */
  const perSession = (table: string, keys: string, columns: string, where = '', from = 'from') => `
          SELECT ${keys}, session, min(first_ts) AS f, ${columns}
          FROM ${table}
          WHERE project = {project:String} AND last_ts >= ${at(from)}${where && ` AND ${where}`}
          GROUP BY ${keys}, session
          HAVING f <= ${at('to')}`
  const RELEASE = "({release:String} = '' OR release = {release:String})"

  const sessionHealth = (project: string, from: number, to: number) =>
    rows<SessionHealth>(
      ch,
      `SELECT env, release, ${judged('crashed')}
      FROM (
        SELECT env, release, ${NETWORK} AS src, count() AS n, countIf(c AND lc >= ${at('from')}) AS k, ${weigh}
        FROM (${perSession(SESSION_HEALTH, 'env, release', 'max(crashed) AS c, max(last_crash) AS lc, max(net) AS nt')})
        GROUP BY env, release, src
      )
      GROUP BY env, release`,
      { project, from, to },
    )

  const flowHealth = (project: string, from: number, to: number, release = '') =>
    rows<FlowHealth>(
      ch,
      `SELECT env, release, flow, ${judged('failed')}, sum(a) AS attempts, sum(fl) AS failures
      FROM (
        SELECT env, release, flow, ${NETWORK} AS src, count() AS n, countIf(lf >= ${at('from')}) AS k, sum(a) AS a, sum(fl) AS fl, ${weigh}
        FROM (${perSession(SESSION_FLOWS, 'env, release, flow', 'sum(attempts) AS a, sum(failures) AS fl, max(last_failure) AS lf, max(net) AS nt', RELEASE)})
        GROUP BY env, release, flow, src
      )
      GROUP BY env, release, flow`,
      { project, from, to, release },
    )

  // The window's groups from the per-session rollup, then where each was seen (groupHistory).
  const errorGroups = async (project: string, env: string, from: number, to: number, only?: { release: string; limit: number }): Promise<ErrorGroup[]> => {
    const groups = await rows<Omit<ErrorGroup, keyof GroupHistory>>(
      ch,
      `SELECT env, release, fingerprint, sum(k) AS sessions, sum(e) AS events,
        any(t) AS type, any(m) AS message, any(st) AS stack, min(h) AS handled,
        sum(kw) AS judgedSessions, count() AS networks, ${topOf}
      FROM (
        -- A network's sessions with the group (k) weigh as its sessions in the release (n) do.
        SELECT g.env AS env, g.release AS release, g.fingerprint AS fingerprint, g.k AS k, g.e AS e, g.t AS t, g.m AS m, g.st AS st, g.h AS h,
          greatest(s.n, g.k) AS n, ${weigh}
        FROM (
          SELECT env, release, fingerprint, ${NETWORK} AS src, count() AS k, sum(e) AS e,
            any(t) AS t, any(m) AS m, any(st) AS st, min(h) AS h
          FROM (${perSession(
            SESSION_ERRORS,
            'env, release, fingerprint',
            'sum(events) AS e, any(type) AS t, any(message) AS m, any(stack) AS st, min(handled) AS h, max(net) AS nt',
            `env = {env:String} AND ${RELEASE}`,
          )})
          GROUP BY env, release, fingerprint, src
        ) AS g
        LEFT JOIN (
          SELECT env, release, ${NETWORK} AS src, count() AS n
          FROM (${perSession(SESSION_HEALTH, 'env, release', 'max(net) AS nt', `env = {env:String} AND ${RELEASE}`)})
          GROUP BY env, release, src
        ) AS s ON g.env = s.env AND g.release = s.release AND g.src = s.src
      )
      GROUP BY env, release, fingerprint
      ORDER BY sessions DESC, fingerprint
      LIMIT {limit:UInt32}`,
      { project, env, from, to, release: only?.release ?? '', limit: only?.limit ?? 1_000_000 },
    )
    if (groups.length === 0) return []
    // The sightings of the window's groups and of every group they may be: found by their keys in
    // ClickHouse (GLOBAL IN: on a cluster, the subqueries run once, not on every shard).
    const sightings = await rows<GroupSighting>(
      ch,
      `WITH win AS (
        SELECT DISTINCT fingerprint FROM ${SESSION_ERRORS}
        WHERE project = {project:String} AND env = {env:String} AND last_ts >= ${at('from')}
          AND ({release:String} = '' OR release = {release:String})
      ),
      keys AS (
        SELECT DISTINCT fingerprint, stack_fingerprint FROM ${ERROR_RELEASES}
        WHERE project = {project:String} AND env = {env:String} AND fingerprint GLOBAL IN (SELECT fingerprint FROM win)
      )
      SELECT fingerprint, stack_fingerprint, release, toUnixTimestamp64Milli(min(first_ts)) AS first
      FROM ${ERROR_RELEASES}
      WHERE project = {project:String} AND env = {env:String}
        AND (fingerprint GLOBAL IN (SELECT fingerprint FROM keys) OR fingerprint GLOBAL IN (SELECT stack_fingerprint FROM keys)
          OR stack_fingerprint GLOBAL IN (SELECT stack_fingerprint FROM keys))
      GROUP BY fingerprint, stack_fingerprint, release`,
      { project, env, from, release: only?.release ?? '' },
    )
    const history = groupHistories(sightings)
    return groups.map((g) => ({ ...g, ...history(g.fingerprint) }))
  }

  const vitals = (project: string, from: number, to: number, release = '') =>
    rows<VitalStat>(
      ch,
      `SELECT env, release, name, quantile(0.75)(value) AS p75, count() AS samples
      FROM ${EVENTS}
      WHERE project = {project:String} AND kind = 'vital' AND ts BETWEEN ${at('from')} AND ${at('to')}
        AND ({release:String} = '' OR release = {release:String})
      GROUP BY env, release, name`,
      { project, from, to, release },
    )

  // From the per-minute rollup: uniq states merge across outcomes, so a session failing and
  // succeeding in one step counts once in `sessions` and once in `failed`.
  const flowSeries = (project: string, env: string, release: string, baseline: string[], from: number, to: number, stepS: number) =>
    rows<FlowStep>(
      ch,
      `SELECT toUnixTimestamp(toStartOfInterval(m.minute, toIntervalSecond({step:UInt32}))) AS t, m.name AS flow,
        toUInt8(m.release != {release:String}) AS base,
        uniqMerge(m.sessions) AS sessions, uniqMergeIf(m.sessions, m.outcome != 'ok') AS failed
      FROM ${RELEASE_MINUTE} AS m
      WHERE m.project = {project:String} AND m.env = {env:String} AND m.kind = 'flow'
        AND (m.release = {release:String} OR has({baseline:Array(String)}, m.release))
        AND m.minute >= toStartOfInterval(toDateTime(intDiv({from:Int64}, 1000), 'UTC'), toIntervalSecond({step:UInt32}))
        AND m.minute <= toDateTime(intDiv({to:Int64}, 1000), 'UTC')
      GROUP BY t, flow, base
      ORDER BY flow, t, base`,
      { project, env, release, baseline, from, to, step: stepS },
    )

  // Per session first (merges are never guaranteed), then crossed with the targets: a session
  // counts for a target when its release arrived before it and it was active after the target appeared.
  const flowBaselines = async (
    project: string,
    env: string,
    targets: { release: string; arrived: number; since: number }[],
    releases: { release: string; arrived: number }[],
    to: number,
  ) => {
    if (targets.length === 0) return []
    return rows<FlowBaselineRow>(
      ch,
      `SELECT {names:Array(String)}[i] AS target, s.flow AS flow, count() AS sessions,
        countIf(s.lf >= fromUnixTimestamp64Milli({starts:Array(Int64)}[i], 'UTC')) AS failed,
        groupUniqArray(5)(s.release) AS releases, uniqExact(s.release) AS release_count
      FROM (${perSession(
        SESSION_FLOWS,
        'release, flow',
        'max(last_ts) AS l, max(last_failure) AS lf, {firsts:Array(Int64)}[indexOf({all:Array(String)}, release)] AS rf',
        'env = {env:String} AND has({all:Array(String)}, release)',
        'since',
      )}) AS s
      ARRAY JOIN arrayEnumerate({names:Array(String)}) AS i
      WHERE s.rf < {targetFirsts:Array(Int64)}[i] AND s.l >= fromUnixTimestamp64Milli({starts:Array(Int64)}[i], 'UTC')
      GROUP BY target, flow`,
      {
        project,
        env,
        since: Math.min(...targets.map((t) => t.since)),
        to,
        names: targets.map((t) => t.release),
        targetFirsts: targets.map((t) => t.arrived),
        starts: targets.map((t) => t.since),
        all: releases.map((r) => r.release),
        firsts: releases.map((r) => r.arrived),
      },
    )
  }

  // No session counting here (uniqMerge over all time is what makes releases() slow).
  const releaseSpans = (project: string, env: string, since: number) =>
    rows<ReleaseSpan>(
      ch,
      `SELECT m.release AS release, ${APPEARED}, toUnixTimestamp64Milli(max(m.last_ts)) AS lastSeen
      FROM ${RELEASE_MINUTE} AS m
      WHERE m.project = {project:String} AND m.env = {env:String}
      GROUP BY m.release
      HAVING max(m.last_ts) >= ${at('since')}
      ORDER BY arrived DESC, release DESC`,
      { project, env, since },
    )

  const environments = async (project: string) =>
    (
      await rows<{ env: string }>(
        ch,
        `SELECT m.env AS env FROM ${RELEASE_MINUTE} AS m WHERE m.project = {project:String} GROUP BY m.env ORDER BY max(m.last_ts) DESC`,
        { project },
      )
    ).map((r) => r.env)

  const vitalAbove = async (project: string, env: string, release: string, name: string, threshold: number, from: number, to: number) => {
    const [r] = await rows<Omit<VitalAbove, 'samples'> & { sessions: number }>(
      ch,
      `SELECT ${judged('above')}
      FROM (
        SELECT ${NETWORK} AS src, count() AS n, countIf(value > {threshold:Float64}) AS k, ${weigh}
        FROM (
          SELECT session, net AS nt, value FROM ${EVENTS}
          WHERE project = {project:String} AND env = {env:String} AND release = {release:String} AND kind = 'vital'
            AND name = {name:String} AND ts BETWEEN ${at('from')} AND ${at('to')}
        )
        GROUP BY src
      )`,
      { project, env, release, name, threshold, from, to },
    )
    // An aggregate without GROUP BY answers one row, zeros when there is nothing.
    const { sessions, ...counts } = r!
    return { ...counts, samples: sessions }
  }

  const releases = async (project: string, env?: string): Promise<ReleaseSummary[]> =>
    rows<ReleaseSummary>(
      ch,
      `SELECT m.env AS env, m.release AS release,
        ${APPEARED},
        toUnixTimestamp64Milli(max(m.last_ts)) AS lastSeen,
        sum(m.events) AS events,
        uniqMerge(m.sessions) AS sessions,
        sumIf(m.events, m.kind = 'error') AS errors,
        sumIf(m.events, m.kind = 'flow') AS flows,
        sumIf(m.events, m.kind = 'flow' AND m.outcome != 'ok') AS flowFailures
      FROM ${RELEASE_MINUTE} AS m
      WHERE m.project = {project:String} AND ({env:String} = '' OR m.env = {env:String})
      GROUP BY m.env, m.release
      ORDER BY arrived DESC, release DESC`,
      { project, env: env ?? '' },
    )

  const matching = `project = {project:String}
        AND ({release:String} = '' OR release = {release:String})
        AND ({kind:String} = '' OR toString(kind) = {kind:String})
        AND ({name:String} = '' OR name = {name:String})`
  const filterParams = (project: string, f: EventFilter) => ({ project, release: f.release ?? '', kind: f.kind ?? '', name: f.name ?? '' })

  const countEvents = async (project: string, filter: EventFilter = {}) => {
    const [r] = await rows<{ n: number }>(ch, `SELECT count() AS n FROM ${EVENTS} WHERE ${matching}`, filterParams(project, filter))
    return r?.n ?? 0
  }

  const events = async (project: string, filter: EventFilter & { limit?: number } = {}) =>
    rows<EventRow>(
      ch,
      `SELECT * EXCEPT (ts, received), toUnixTimestamp64Milli(ts) AS ts, toUnixTimestamp64Milli(received) AS received
      FROM ${EVENTS} WHERE ${matching}
      ORDER BY ts DESC LIMIT {limit:UInt32}`,
      { ...filterParams(project, filter), limit: filter.limit ?? 1000 },
    )

  const projects = async () =>
    rows<Project>(
      ch,
      `SELECT id, name, ingest_key AS ingestKey, origins, previous_key AS previousKey,
        toUnixTimestamp64Milli(previous_key_until) AS previousKeyUntil, rate_limit AS rateLimit,
        upload_token AS uploadToken, toUnixTimestamp64Milli(updated) AS updated
      FROM ${PROJECTS} FINAL ORDER BY id`,
    )

  const saveProject = (p: Project) =>
    insert(PROJECTS, [
      {
        id: p.id,
        name: p.name,
        ingest_key: p.ingestKey,
        origins: p.origins,
        previous_key: p.previousKey,
        previous_key_until: p.previousKeyUntil,
        rate_limit: p.rateLimit,
        upload_token: p.uploadToken,
        created: p.updated,
        updated: p.updated,
      },
    ])

  const alerts = async (project?: string) =>
    rows<AlertRow>(
      ch,
      `SELECT project, dedup_key, env, release, rule, subject, status,
        toUnixTimestamp64Milli(fired_at) AS fired_at,
        if(isNull(resolved_at), NULL, toUnixTimestamp64Milli(assumeNotNull(resolved_at))) AS resolved_at,
        notified, payload, toUnixTimestamp64Milli(updated) AS updated
      FROM ${ALERTS} FINAL
      WHERE {project:String} = '' OR project = {project:String}
      ORDER BY fired_at`,
      { project: project ?? '' },
    )

  const saveAlert = (a: AlertRow) => insert(ALERTS, [a])

  const saveDelivery = (d: Delivery) => insert(DELIVERIES, [d])

  // Qualified names: the millisecond aliases must not shadow the columns in WHERE and ORDER BY.
  const deliveryColumns = `d.id AS id, d.alert AS alert, d.project AS project, d.notifier AS notifier, d.type AS type, d.message AS message,
        d.status AS status, d.attempts AS attempts, toUnixTimestamp64Milli(d.next_at) AS next_at, d.last_error AS last_error,
        toUnixTimestamp64Milli(d.created) AS created, toUnixTimestamp64Milli(d.updated) AS updated`

  const dueDeliveries = (notifier: string, now: number) =>
    rows<Delivery>(
      ch,
      `SELECT * FROM (
        SELECT ${deliveryColumns} FROM ${DELIVERIES} AS d FINAL
        WHERE d.notifier = {notifier:String} AND d.status = 'pending'
        ORDER BY d.created, d.id LIMIT 1 BY d.alert
      ) WHERE next_at <= {now:Int64}
      ORDER BY next_at LIMIT 100`,
      { notifier, now },
    )

  const strandedDeliveries = (notifiers: string[]) =>
    rows<Delivery>(
      ch,
      `SELECT ${deliveryColumns} FROM ${DELIVERIES} AS d FINAL
      WHERE d.status = 'pending' AND NOT has({notifiers:Array(String)}, d.notifier)
      ORDER BY d.created`,
      { notifiers },
    )

  const deliveries = (project: string, alert?: string | string[]) =>
    rows<Delivery>(
      ch,
      `SELECT ${deliveryColumns} FROM ${DELIVERIES} AS d FINAL
      WHERE d.project = {project:String} AND (empty({alerts:Array(String)}) OR has({alerts:Array(String)}, d.alert))
      ORDER BY d.created`,
      { project, alerts: alert === undefined ? [] : typeof alert === 'string' ? [alert] : alert },
    )

  const saveSourceMap = (m: SourceMapRow) => insert(SOURCEMAPS, [m])

  const sourceMap = async (project: string, release: string, path: string): Promise<string | undefined> => {
    const [found] = await rows<{ map: string }>(
      ch,
      `SELECT map FROM ${SOURCEMAPS} FINAL WHERE project = {project:String} AND release = {release:String} AND path = {path:String}`,
      { project, release, path },
    )
    return found?.map
  }

  const sourceMapIndex = (project: string) =>
    rows<{ release: string; path: string }>(ch, `SELECT release, path FROM ${SOURCEMAPS} FINAL WHERE project = {project:String}`, { project })

  const sourceMaps = (project: string, release: string) =>
    rows<Omit<SourceMapRow, 'map'>>(
      ch,
      `SELECT project, release, path, debug_id, bytes, sources, toUnixTimestamp64Milli(uploaded) AS uploaded
      FROM ${SOURCEMAPS} FINAL WHERE project = {project:String} AND release = {release:String} ORDER BY path`,
      { project, release },
    )

  const ping = async () => {
    try {
      return (await ch.ping()).success
    } catch {
      return false
    }
  }

  return {
    mode,
    migrate,
    insertEvents,
    insertRaw,
    applyRetention,
    recentBatches,
    releases,
    sessionHealth,
    flowHealth,
    errorGroups,
    vitals,
    flowSeries,
    flowBaselines,
    releaseSpans,
    environments,
    vitalAbove,
    countEvents,
    events,
    projects,
    saveProject,
    alerts,
    saveAlert,
    saveDelivery,
    dueDeliveries,
    strandedDeliveries,
    deliveries,
    saveSourceMap,
    sourceMap,
    sourceMapIndex,
    sourceMaps,
    ping,
    sql: <T>(query: string) => rows<T>(ch, query),
    // chDB finishes a query still running at close() before it lets the connection go; the data
    // directory is free (for a restart in this process) only once that is done.
    close: async () => {
      await ch.close()
      if (mode === 'embedded') await drainPending()
    },
  }
}
