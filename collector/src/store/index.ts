/**
 * The store: all SQL the collector runs lives in this folder, one module per reader (DDL in
 * ./schema.ts). Values go in only as `{name:Type}` parameters. The same code talks to embedded
 * ClickHouse (chDB, the default) or to a ClickHouse server when CLICKHOUSE_URL is set
 * (./connection.ts). Each part of the collector is given its slice, not the whole store.
 */
import type { Config } from '../config.js'
import { createAlertStore, type AlertStore } from './alerts.js'
import { openDb, type Db } from './connection.js'
import { createDetectorReads, type DetectorReads } from './detectorReads.js'
import { createEventStore, type EventStore } from './events.js'
import { applyRetention, migrate } from './migrate.js'
import { createPageReads, type PageReads } from './pageReads.js'
import { createProjectStore, type ProjectStore } from './projects.js'
import { createSourceMapStore, type SourceMapStore } from './sourcemaps.js'

export type * from './types.js'
export { APPEARED_BEFORE_ARRIVAL_MS, ROW_COLUMNS, SESSIONS_PER_NETWORK } from './types.js'
export type { AlertStore, Db, DetectorReads, EventStore, PageReads, ProjectStore, SourceMapStore }
export type { Window } from './judgingSql.js'
export type { AboveQuestion } from './vitalReads.js'
export type { Affected, AffectedQuestion, Segment } from './segmentReads.js'
export type { ErrorRow, FlagRow, FlowRow, HealthRow, StoredSessions, VitalRow } from './sessionReads.js'

export type Store = {
  readonly mode: Db['mode']
  /** The connection itself (tests' own queries; everything else goes through a slice). */
  readonly db: Db
  /** Creates or upgrades the schema; returns the versions it applied. */
  migrate: () => Promise<number[]>
  /** Sets the TTL of events and rollups to `days`, when it differs. */
  applyRetention: (days: number) => Promise<void>
  ping: () => Promise<boolean>
  close: () => Promise<void>
  /** The drainer's inserts, the recent batch ids (app.ts). */
  events: EventStore
  /** The detector's reads. */
  detector: DetectorReads
  /** The dashboard's and the read API's reads. */
  pages: PageReads
  /** The project registry's. */
  projects: ProjectStore
  /** The detector's alerts and the outbox's deliveries. */
  alerts: AlertStore
  /** The source-map routes' and cache's. */
  sourcemaps: SourceMapStore
}

export const openStore = async (config: Config): Promise<Store> => {
  const db = openDb(config)
  const detector = createDetectorReads(db, { minFailingNetworks: config.minFailingNetworks })
  const alerts = createAlertStore(db)
  return {
    mode: db.mode,
    db,
    migrate: () => migrate(db),
    applyRetention: (days) => applyRetention(db, days),
    ping: db.ping,
    close: db.close,
    events: createEventStore(db),
    detector,
    pages: createPageReads(db, { detector, alerts }),
    projects: createProjectStore(db),
    alerts,
    sourcemaps: createSourceMapStore(db),
  }
}
