/** How the schema renders (one node or a cluster), and what a migration is. */

/**
 * How DDL renders. Embedded (and a single ClickHouse server): plain engines. On a cluster
 * (VIGIL_CLICKHOUSE_CLUSTER): every statement ON CLUSTER, Replicated engines; sharded tables
 * become `<name>_local` on each shard plus a Distributed `<name>` over them, so queries and
 * inserts keep using the same names; small tables are replicated to every node.
 */
export type SchemaContext = {
  /** CREATE TABLE. `shardBy` makes it sharded on a cluster (its Distributed sharding key). */
  table: (name: string, columns: string, engine: { family: string; args?: string }, tail: string, shardBy?: string) => string[]
  /** A materialised view from one sharded table into another (local to each shard on a cluster). */
  view: (name: string, to: string, from: string, select: (from: string) => string) => string[]
  /**
   * ALTER TABLE; on a cluster a sharded table's change goes to the local tables and, unless
   * `localOnly`, to the Distributed one (`distributed`: its own clause, when the local tables' is
   * about their storage, e.g. a sorting key).
   */
  alter: (name: string, clause: string, opts?: { sharded?: boolean; localOnly?: boolean; distributed?: string }) => string[]
  /** DROP VIEW of a materialised view made by `view`. */
  dropView: (name: string) => string[]
}

export const embeddedContext: SchemaContext = {
  table: (name, columns, { family, args = '' }, tail) => [`CREATE TABLE IF NOT EXISTS ${name} (${columns}) ENGINE = ${family}(${args})${tail}`],
  view: (name, to, from, select) => [`CREATE MATERIALIZED VIEW IF NOT EXISTS ${name} TO ${to} AS\n      ${select(from)}`],
  alter: (name, clause) => [`ALTER TABLE ${name} ${clause}`],
  dropView: (name) => [`DROP VIEW IF EXISTS ${name}`],
}

export const clusterContext = (cluster: string): SchemaContext => {
  if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(cluster)) throw new Error(`VIGIL_CLICKHOUSE_CLUSTER must be a cluster name, got ${JSON.stringify(cluster)}`)
  const on = ` ON CLUSTER '${cluster}'`
  const replicated = (family: string, path: string, args = '') =>
    `Replicated${family}('/clickhouse/tables/${path}', '{replica}'${args ? `, ${args}` : ''})`
  return {
    table: (name, columns, { family, args }, tail, shardBy) =>
      shardBy
        ? [
            `CREATE TABLE IF NOT EXISTS ${name}_local${on} (${columns}) ENGINE = ${replicated(family, `{shard}/{database}/${name}_local`, args)}${tail}`,
            `CREATE TABLE IF NOT EXISTS ${name}${on} AS ${name}_local ENGINE = Distributed('${cluster}', currentDatabase(), ${name}_local, ${shardBy})`,
          ]
        : [`CREATE TABLE IF NOT EXISTS ${name}${on} (${columns}) ENGINE = ${replicated(family, `all/{database}/${name}`, args)}${tail}`],
    view: (name, to, from, select) => [`CREATE MATERIALIZED VIEW IF NOT EXISTS ${name}${on} TO ${to}_local AS\n      ${select(`${from}_local`)}`],
    alter: (name, clause, opts = {}) =>
      opts.sharded
        ? [`ALTER TABLE ${name}_local${on} ${clause}`, ...(opts.localOnly ? [] : [`ALTER TABLE ${name}${on} ${opts.distributed ?? clause}`])]
        : [`ALTER TABLE ${name}${on} ${clause}`],
    dropView: (name) => [`DROP VIEW IF EXISTS ${name}${on}`],
  }
}

/** What a migration that moves data (not only DDL) gets: the same connection, row by row. */
export type MigrationDb = {
  rows: <T>(query: string, params?: Record<string, unknown>) => Promise<T[]>
  insert: (table: string, values: unknown[]) => Promise<void>
}

/**
 * `up` is DDL (and SQL back-fills); `data`, when there is one, runs after it, for what SQL alone
 * cannot compute. Both are run again when a migration was interrupted, so both must be safe to
 * repeat.
 */
export type Migration = { version: number; name: string; up: (ctx: SchemaContext) => string[]; data?: (db: MigrationDb) => Promise<void> }
