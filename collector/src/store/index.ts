/**
 * All SQL the collector runs lives here (DDL in ./schema.ts). Values go in only as
 * `{name:Type}` parameters. The same code talks to embedded ClickHouse (chDB, the default) or to
 * a ClickHouse server when CLICKHOUSE_URL is set.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client'
import { createChdbConnection } from 'chdb/connection'
import type { Config } from '../config.js'
import {
  ALERTS,
  EVENTS,
  MIGRATIONS,
  PROJECTS,
  RELEASE_MINUTE,
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
  url: string
  user_agent: string
}

export type EventFilter = { release?: string; kind?: Kind; name?: string }

export type Project = { id: string; name: string; ingestKey: string }

export type ReleaseSummary = {
  env: string
  release: string
  firstSeen: number
  lastSeen: number
  events: number
  sessions: number
  errors: number
  flows: number
  flowFailures: number
}

/** Per release, for one flow: sessions that ran it and sessions in which it failed at least once. */
export type FlowSessions = {
  release: string
  sessions: number
  failed: number
  /** Time of the first failure in this window, epoch ms; 0 when none. */
  firstFailure: number
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
  releases: (project: string, env?: string) => Promise<ReleaseSummary[]>
  /** Distinct (env, flow name) pairs seen since `since`. */
  activeFlows: (project: string, since: number) => Promise<{ env: string; name: string }[]>
  flowSessions: (project: string, env: string, flow: string, since: number) => Promise<FlowSessions[]>
  countEvents: (project: string, filter?: EventFilter) => Promise<number>
  /** The newest events matching the filter, newest first. */
  events: (project: string, filter?: EventFilter & { limit?: number }) => Promise<EventRow[]>
  projects: () => Promise<Project[]>
  saveProject: (p: Project) => Promise<void>
  alerts: (project?: string) => Promise<AlertRow[]>
  saveAlert: (a: AlertRow) => Promise<void>
  ping: () => Promise<boolean>
  close: () => Promise<void>
}

// Server and chDB defaults differ: say it explicitly, on every query.
const settings: ClickHouseSettings = {
  output_format_json_quote_64bit_integers: 0,
  date_time_input_format: 'best_effort',
}

type ClientConnection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>['connection']>

const rows = async <T>(ch: ClickHouseClient, query: string, query_params: Record<string, unknown> = {}): Promise<T[]> => {
  const rs = await ch.query({ query, query_params, format: 'JSONEachRow' })
  return rs.json<T>()
}

const connect = async (config: Config): Promise<{ ch: ClickHouseClient; mode: Store['mode'] }> => {
  const c = config.clickhouse
  if (!c) {
    const path = join(config.dataDir, 'clickhouse')
    mkdirSync(path, { recursive: true })
    // chDB ignores the client's `database` option; the embedded engine has its own directory,
    // so its `default` database is ours.
    // chdb types its Connection with @clickhouse/client-common, the client with its own copy of
    // the same types: identical shapes, different declarations.
    const connection = createChdbConnection({ path }) as unknown as ClientConnection
    return { ch: createClient({ connection, clickhouse_settings: settings }), mode: 'embedded' }
  }
  const base = { url: c.url, username: c.username, password: c.password, clickhouse_settings: settings }
  const admin = createClient(base)
  try {
    await admin.command({ query: `CREATE DATABASE IF NOT EXISTS {db:Identifier}`, query_params: { db: c.database } })
  } finally {
    await admin.close()
  }
  return { ch: createClient({ ...base, database: c.database }), mode: 'server' }
}

export const openStore = async (config: Config): Promise<Store> => {
  const { ch, mode } = await connect(config)

  const migrate = async (): Promise<number[]> => {
    const ctx = embeddedContext
    await ch.command({ query: migrationsTable(ctx) })
    const done = new Set(
      (await rows<{ version: number }>(ch, `SELECT version FROM ${MIGRATIONS} FINAL`)).map((r) => r.version),
    )
    const applied: number[] = []
    for (const m of migrations) {
      if (done.has(m.version)) continue
      for (const statement of m.up(ctx)) await ch.command({ query: statement })
      await ch.insert({
        table: MIGRATIONS,
        values: [{ version: m.version, name: m.name, applied: Date.now() }],
        format: 'JSONEachRow',
      })
      applied.push(m.version)
    }
    return applied
  }

  const insertEvents = async (values: EventRow[], dedupToken?: string): Promise<void> => {
    if (values.length === 0) return
    await ch.insert({
      table: EVENTS,
      values,
      format: 'JSONEachRow',
      clickhouse_settings: dedupToken
        ? { insert_deduplication_token: dedupToken, deduplicate_blocks_in_dependent_materialized_views: 1 }
        : {},
    })
  }

  const releases = async (project: string, env?: string): Promise<ReleaseSummary[]> =>
    rows<ReleaseSummary>(
      ch,
      `SELECT m.env AS env, m.release AS release,
        toUnixTimestamp64Milli(min(m.first_ts)) AS firstSeen,
        toUnixTimestamp64Milli(max(m.last_ts)) AS lastSeen,
        sum(m.events) AS events,
        uniqMerge(m.sessions) AS sessions,
        sumIf(m.events, m.kind = 'error') AS errors,
        sumIf(m.events, m.kind = 'flow') AS flows,
        sumIf(m.events, m.kind = 'flow' AND m.outcome != 'ok') AS flowFailures
      FROM ${RELEASE_MINUTE} AS m
      WHERE m.project = {project:String} AND ({env:String} = '' OR m.env = {env:String})
      GROUP BY m.env, m.release
      ORDER BY firstSeen DESC, release DESC`,
      { project, env: env ?? '' },
    )

  const activeFlows = async (project: string, since: number) =>
    rows<{ env: string; name: string }>(
      ch,
      `SELECT DISTINCT env, name FROM ${RELEASE_MINUTE}
      WHERE project = {project:String} AND kind = 'flow' AND minute >= toStartOfMinute(fromUnixTimestamp64Milli({since:Int64}, 'UTC'))
      ORDER BY env, name`,
      { project, since },
    )

  // The unit is the session: a session that fails a flow twenty times is one failed session.
  const flowSessions = async (project: string, env: string, flow: string, since: number) =>
    rows<FlowSessions>(
      ch,
      `SELECT release, count() AS sessions, countIf(is_failed) AS failed,
        if(failed = 0, 0, toUnixTimestamp64Milli(minIf(first_failure, is_failed))) AS firstFailure
      FROM (
        SELECT release, session, max(outcome != 'ok') AS is_failed, minIf(ts, outcome != 'ok') AS first_failure
        FROM ${EVENTS}
        WHERE project = {project:String} AND env = {env:String} AND kind = 'flow' AND name = {flow:String}
          AND ts >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
        GROUP BY release, session
      )
      GROUP BY release
      ORDER BY release`,
      { project, env, flow, since },
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
    rows<Project>(ch, `SELECT id, name, ingest_key AS ingestKey FROM ${PROJECTS} FINAL ORDER BY id`)

  const saveProject = async (p: Project) => {
    const now = Date.now()
    await ch.insert({
      table: PROJECTS,
      values: [{ id: p.id, name: p.name, ingest_key: p.ingestKey, created: now, updated: now }],
      format: 'JSONEachRow',
    })
  }

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

  const saveAlert = async (a: AlertRow) => {
    await ch.insert({ table: ALERTS, values: [a], format: 'JSONEachRow' })
  }

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
    releases,
    activeFlows,
    flowSessions,
    countEvents,
    events,
    projects,
    saveProject,
    alerts,
    saveAlert,
    ping,
    close: () => ch.close(),
  }
}
