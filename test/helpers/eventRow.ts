import { blankRow } from '../../collector/src/ingest/blankRow.js'
import type { EventRow } from '../../collector/src/store/index.js'

/** A stored event for seeding the store directly: every column its empty value unless given. */
export const eventRow = (r: Partial<EventRow> & Pick<EventRow, 'release' | 'kind' | 'ts' | 'session'>): EventRow => ({
  ...blankRow('default', 'production', r.release, r.kind, r.ts, r.ts, r.session, ''),
  ...r,
})
