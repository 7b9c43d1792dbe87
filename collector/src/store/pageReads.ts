/**
 * What the dashboard's pages and the read API (readApi.ts, readModels.ts, releaseNumbers.ts) read:
 * their numbers from the per-release rollups (pageStats.ts), a release's error groups, flag
 * cohorts (cohortReads.ts) and clients (clientReads.ts), and, passed
 * on from the detector's reads and the alert store, the release list, alerts and deliveries.
 */
import type { AlertStore } from './alerts.js'
import type { Db } from './connection.js'
import type { DetectorReads } from './detectorReads.js'
import { clientReads } from './clientReads.js'
import { cohortReads } from './cohortReads.js'
import { releaseErrorGroups } from './errorGroups.js'
import { pageStats, type PageStats } from './pageStats.js'

/** The pages' and the read API's reads (readModels.ts, releaseNumbers.ts, readApi.ts): their own queries and those they share. */
export type PageReads = Pick<DetectorReads, 'releases'> & Pick<AlertStore, 'alerts' | 'deliveries'> & PageStats & ReturnType<typeof cohortReads> & ReturnType<typeof clientReads> & { releaseErrorGroups: ReturnType<typeof releaseErrorGroups> }

export const createPageReads = (db: Db, shared: { detector: DetectorReads; alerts: AlertStore }): PageReads => {
  const { alerts, deliveries } = shared.alerts
  return { ...pageStats(db), ...cohortReads(db), ...clientReads(db), releases: shared.detector.releases, releaseErrorGroups: releaseErrorGroups(db), alerts, deliveries }
}
