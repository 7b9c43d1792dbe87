/**
 * What the dashboard's pages and the read API (readApi.ts, readModels.ts, releaseNumbers.ts) read:
 * their numbers from the per-release rollups (pageStats.ts), and, passed on from the detector's
 * reads and the alert store, the release list, error groups, alerts and deliveries they show.
 */
import type { AlertStore } from './alerts.js'
import type { Db } from './connection.js'
import type { DetectorReads } from './detectorReads.js'
import { pageStats, type PageStats } from './pageStats.js'

/** The pages' and the read API's reads (readModels.ts, releaseNumbers.ts, readApi.ts): their own queries and those they share. */
export type PageReads = Pick<DetectorReads, 'releases' | 'errorGroups'> & Pick<AlertStore, 'alerts' | 'deliveries'> & PageStats

export const createPageReads = (db: Db, shared: { detector: DetectorReads; alerts: AlertStore }): PageReads => {
  const { releases, errorGroups } = shared.detector
  const { alerts, deliveries } = shared.alerts
  return { ...pageStats(db), releases, errorGroups, alerts, deliveries }
}
