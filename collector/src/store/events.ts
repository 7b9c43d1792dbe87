/** Events in: the drainer's inserts from the spool, and the batch ids a retry must not store again (app.ts at start). */
import type { Db } from './connection.js'
import { EVENTS } from './tables.js'
import { ROW_COLUMNS } from './types.js'

/** Events in (the drainer, given insertRaw by app.ts) and the batch ids app.ts reads at start. */
export type EventStore = {
  /** Inserts TabSeparated rows (ROW_COLUMNS, then stack_fingerprint, empty for the default), a text or its pieces in order, from the spool; a repeated token is dropped. */
  insertRaw: (text: string | string[], dedupToken: string) => Promise<void>
  /** (project, batch id) of events received since `since`: batches a retry must not store again. */
  recentBatches: (since: number) => Promise<{ project: string; batch: string }[]>
}

export const createEventStore = (db: Db): EventStore => {
  const insertRaw = (text: string | string[], dedupToken: string): Promise<void> =>
    // A row regrouped by a source map carries its stack fingerprint last; the others an empty
    // field there, which takes the column's default, their fingerprint.
    db.insertText(`INSERT INTO ${EVENTS} (${ROW_COLUMNS.join(', ')}, stack_fingerprint) FORMAT TabSeparated`, text, {
      input_format_tsv_empty_as_default: 1,
      insert_deduplication_token: dedupToken,
      deduplicate_blocks_in_dependent_materialized_views: 1,
      // On a cluster, the insert into the Distributed table returns once the shards have it,
      // so the token reaches them and a replay is dropped there.
      ...(db.cluster ? { distributed_foreground_insert: 1 } : {}),
    })

  const recentBatches = async (since: number) =>
    db.rows<{ project: string; batch: string }>(
      `SELECT DISTINCT project, batch FROM ${EVENTS}
      WHERE received >= fromUnixTimestamp64Milli({since:Int64}, 'UTC') AND batch != ''
      LIMIT 200000`,
      { since },
    )

  return { insertRaw, recentBatches }
}
