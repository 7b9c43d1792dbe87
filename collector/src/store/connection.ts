/**
 * The connection every part of the store shares: embedded ClickHouse (chDB, the default) or a
 * ClickHouse server when CLICKHOUSE_URL is set, behind one small `Db`.
 */
import { mkdirSync } from 'node:fs'
import { Readable } from 'node:stream'
import { join } from 'node:path'
import { ClickHouseLogLevel, createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client'
import { drainPending } from 'chdb'
import { createChdbConnection } from 'chdb/connection'
import type { Config } from '../config.js'
import { StoreUnavailable } from '../errors.js'
import { clusterContext, embeddedContext, type SchemaContext } from './schemaContext.js'

/** What the store's readers and writers are given: one connection, and how its DDL renders. */
export type Db = {
  readonly mode: 'embedded' | 'server'
  /** VIGIL_CLICKHOUSE_CLUSTER, when the schema is a cluster's. */
  readonly cluster: string | undefined
  /** One schema, two renderings: plain engines embedded or on one server, Replicated and Distributed tables ON CLUSTER on a cluster. */
  readonly ctx: SchemaContext
  /** JSON rows of a query; an unreachable server is a StoreUnavailable. */
  rows: <T>(query: string, params?: Record<string, unknown>) => Promise<T[]>
  /** TabSeparated text into a table (the drainer's inserts: `query` names the table and columns); an unreachable server is a StoreUnavailable. */
  insertText: (query: string, text: string | string[], settings: ClickHouseSettings) => Promise<void>
  /** JSON rows into a table; an unreachable server is a StoreUnavailable. */
  insert: (table: string, values: unknown[], settings?: ClickHouseSettings) => Promise<void>
  /** DDL, as it is (its errors are not translated: only migrations run it). */
  command: (query: string, settings?: ClickHouseSettings) => Promise<void>
  /** Creates the server's database when it does not exist (embedded: nothing to do). */
  createDatabase: () => Promise<void>
  ping: () => Promise<boolean>
  close: () => Promise<void>
}

// Failures reach us as errors and are logged once, by us, with what they mean for events.
const log = { level: ClickHouseLogLevel.OFF }

// Server and chDB defaults differ: say it explicitly, on every query.
export const settings: ClickHouseSettings = {
  output_format_json_quote_64bit_integers: 0,
  date_time_input_format: 'best_effort',
}

type ClientConnection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>['connection']>

/** A connection that failed (server down, refused, timed out) is a 503 to our callers, not a 500. */
export const unavailable = (err: unknown): unknown => {
  const e = err as { code?: string; message?: string; cause?: { code?: string } }
  const code = e?.code ?? e?.cause?.code
  if (typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EPIPE|UND_ERR)/.test(code)) return new StoreUnavailable()
  if (/socket hang up|Timeout error|connect ECONNREFUSED/i.test(e?.message ?? '')) return new StoreUnavailable()
  return err
}

/**
 * Embedded, two sessions on one data directory, one engine: writes (inserts, DDL) on one, reads on
 * the other. chDB runs one query at a time per session, so with one session a page or a look waited
 * behind every insert of a busy intake; the two run side by side. (Parameterised queries — every
 * read — still run one at a time process-wide: chdb-node chains them, its engine's parameters are
 * not per session.) Settings stay with their session, so an insert's dedup token never reaches a
 * read. A server takes concurrent requests over HTTP: one client does both.
 */
const connect = (config: Config): { reader: ClickHouseClient; writer: ClickHouseClient; mode: Db['mode']; createDatabase: () => Promise<void> } => {
  const c = config.clickhouse
  if (!c) {
    const path = join(config.dataDir, 'clickhouse')
    mkdirSync(path, { recursive: true })
    // chdb types its Connection with @clickhouse/client-common, the client with its own copy of
    // the same types: identical shapes, different declarations.
    const session = () => createClient({ connection: createChdbConnection({ path }) as unknown as ClientConnection, clickhouse_settings: settings, log })
    // chDB ignores the client's `database` option; the embedded engine has its own directory,
    // so its `default` database is ours.
    const reader = session()
    try {
      return { reader, writer: session(), mode: 'embedded', createDatabase: async () => {} }
    } catch (err) {
      // The first must not hold the data directory.
      void reader.close()
      throw err
    }
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
  const ch = createClient({ ...base, database: c.database })
  return { reader: ch, writer: ch, mode: 'server', createDatabase }
}

/** `f`, with an unreachable server's failure as a StoreUnavailable (`unavailable`). */
const translated = async <T>(f: () => Promise<T>): Promise<T> => {
  try {
    return await f()
  } catch (err) {
    throw unavailable(err)
  }
}

export const openDb = (config: Config): Db => {
  const { reader, writer, mode, createDatabase } = connect(config)
  const cluster = config.clickhouse?.cluster
  return {
    mode,
    cluster,
    ctx: cluster ? clusterContext(cluster) : embeddedContext,
    rows: <T>(query: string, query_params: Record<string, unknown> = {}): Promise<T[]> =>
      translated(async () => (await reader.query({ query, query_params, format: 'JSONEachRow' })).json<T>()),
    insertText: (query, text, clickhouse_settings) =>
      translated(async () => {
        const r = await writer.exec({ query, values: Readable.from(Array.isArray(text) ? text : [text]), clickhouse_settings })
        // The answer must be read for the connection to be reused.
        for await (const _ of r.stream) void _
      }),
    insert: (table, values, clickhouse_settings = {}) =>
      // chDB keeps a query's settings for the next in its session: an insert given no token
      // would take the last one given (the drainer's) and be dropped as that insert's replay
      // (error groups' history regrouped by source maps, a test's rows).
      translated(async () => {
        await writer.insert({ table, values, format: 'JSONEachRow', clickhouse_settings: { insert_deduplication_token: '', ...clickhouse_settings } })
      }),
    command: async (query, clickhouse_settings = {}) => {
      // As insert: a back-fill (INSERT … SELECT) must not take the drainer's last token.
      await writer.command({ query, clickhouse_settings: { insert_deduplication_token: '', ...clickhouse_settings } })
    },
    createDatabase,
    ping: async () => {
      try {
        return (await reader.ping()).success
      } catch {
        return false
      }
    },
    // chDB finishes a query still running at close() before it lets the connection go; the data
    // directory is free (for a restart in this process) only once that is done.
    close: async () => {
      await reader.close()
      if (writer !== reader) await writer.close()
      if (mode === 'embedded') await drainPending()
    },
  }
}
