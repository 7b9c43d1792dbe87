import type { SchemaContext } from './schemaContext.js'

const DT = "DateTime64(3, 'UTC')"

/**
 * A per-session rollup's table (migrations 13 and 15), AggregatingMergeTree: one row per session
 * (and `keys`, each `name Type`) of a release, its first and last event and its network, then its
 * own `columns`; sharded by session on a cluster.
 */
export const sessionRollupTable = (table: SchemaContext['table'], name: string, p: { keys?: [string, string][]; columns: string[] }): string[] =>
  table(
    name,
    `
        project LowCardinality(String),
        env LowCardinality(String),
        release LowCardinality(String),
        session String,
${(p.keys ?? []).map(([k, type]) => `        ${k} ${type},\n`).join('')}        first_ts SimpleAggregateFunction(min, ${DT}),
        last_ts SimpleAggregateFunction(max, ${DT}),
        net SimpleAggregateFunction(max, String),
        ${p.columns.join(',\n        ')}
      `,
    { family: 'AggregatingMergeTree' },
    `
      PARTITION BY toYYYYMMDD(last_ts)
      ORDER BY (project, env, release, session${(p.keys ?? []).map(([k]) => `, ${k}`).join('')})
      TTL toDateTime(last_ts) + INTERVAL 30 DAY
      SETTINGS non_replicated_deduplication_window = 1000`,
    'sipHash64(session)',
  )
