import { migrations1to4 } from './migrations1to4.js'
import { migrations5on } from './migrations5on.js'
import { migrations15on } from './migrations15on.js'
import type { Migration, SchemaContext } from './schemaContext.js'
import { MIGRATIONS } from './tables.js'

/**
 * The schema as an append-only list of migrations. A migration is never edited once it has
 * landed: a later change is a new entry (at the end of migrations15on.ts). Each statement is
 * idempotent (IF NOT EXISTS), so a migration interrupted half way is simply run again.
 */
export const migrations: Migration[] = [...migrations1to4, ...migrations5on, ...migrations15on]

export const migrationsTable = ({ table }: SchemaContext): string[] =>
  table(
    MIGRATIONS,
    `
    version UInt32,
    name String,
    applied DateTime64(3, 'UTC')
  `,
    { family: 'ReplacingMergeTree', args: 'applied' },
    `
  ORDER BY version`,
  )
