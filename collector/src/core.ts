import { join } from 'node:path'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Config } from './config.js'
import type { OriginalFrame } from './grouping/symbolicate.js'
import { createSeenBatches, type SeenBatches } from './ingest/seen.js'
import { createMetrics, type Metrics } from './metrics.js'
import { createProjects, type ProjectRegistry } from './projects.js'
import { createSiteGuard, type SiteGuard } from './siteGuard.js'
import { createSourceMaps, type SourceMaps } from './sourcemaps/cache.js'
import { regroupRows } from './sourcemaps/regroupRows.js'
import { createDrainer, type Drainer } from './spool/drainer.js'
import { openQuarantine, type Quarantine } from './spool/quarantine.js'
import { batchOf } from './spool/record.js'
import { openSpool, type Spool } from './spool/spool.js'
import { openStore, type Project, type Store } from './store/index.js'
import { routeUpgrades, type Upgrades } from './upgrades.js'

/** What every plugin may use, created once: storage, the spool and its drain, projects, source maps, metrics. */
export type Core = {
  config: Config
  metrics: Metrics
  /** Keeps other sites' pages from what is not theirs to use. */
  guard: SiteGuard
  store: Store
  spool: Spool
  quarantine: Quarantine
  drainer: Drainer
  projects: ProjectRegistry
  defaultProject: Project
  /** Batch ids already accepted: a retried or repeated batch is stored once. */
  seen: SeenBatches
  sourcemaps: SourceMaps
  /** A release's stack with its original frames, from its source maps. */
  symbolicate: (project: string, release: string, stack: string) => Promise<OriginalFrame[]>
  /** The WebSocket paths, each added by the plugin that serves it. */
  upgrades: Upgrades
  /** The URL browsers use to reach this collector (known once it listens). */
  publicUrl: () => string
  /** How long the oldest accepted record has waited for ClickHouse, in ms (0: none waits). */
  drainLag: () => number
  untrustedForwards: UntrustedForwards
}

/** How often projects are re-read from ClickHouse: a key added through another collector works here within this. */
const PROJECTS_REFRESH_MS = 10_000

/** The spool, and the batches still in it, read as it recovers (its only read of them). */
const recoverSpool = (config: Config, log: FastifyBaseLogger) => {
  const dir = join(config.dataDir, 'spool')
  const spooled: [string, string][] = []
  const spool = openSpool({
    dir,
    sealMs: 200,
    maxSegmentBytes: 16 * 1024 * 1024,
    maxBytes: config.spoolMaxBytes,
    onRecovered: (record) => spooled.push(batchOf(record)),
  })
  if (spool.recovered.tornBytes > 0) log.warn(`spool: kept ${spool.recovered.records} whole record(s), skipped ${spool.recovered.tornBytes} torn byte(s) that were never acknowledged`)
  return { spool, dir, spooled }
}

/**
 * The schema and the retention, once ClickHouse answers: remembered once done, retried by whoever
 * needs it next (the drainer, the project refresh) while it is not. Projects are not part of it:
 * a refresh that fails must not keep the drainer from storing.
 */
const storageReadiness = (store: Store, retentionDays: number) => {
  let ready: Promise<void> | undefined
  return (): Promise<void> =>
    (ready ??= (async () => {
      await store.migrate()
      await store.applyRetention(retentionDays)
    })().catch((err: unknown) => {
      ready = undefined
      throw err
    }))
}

/**
 * At start: storage ready and projects read (true when both were). Embedded storage that fails is
 * fatal; a ClickHouse server that is down is not.
 */
const prepareStorage = async (store: Store, storeReady: () => Promise<void>, projects: ProjectRegistry, log: FastifyBaseLogger): Promise<boolean> => {
  try {
    await storeReady()
    await projects.refresh()
    return true
  } catch (err) {
    if (store.mode === 'embedded') throw err
    log.warn({ err }, 'ClickHouse is not reachable: accepting into the spool until it is')
    return false
  }
}

/**
 * Storage readiness that also reads the projects, in the background, the first time it is had
 * after they could not be read at start (ClickHouse back): keys and changes made meanwhile come
 * at once, not at the refresher's next tick — without the drainer waiting for them.
 */
const withProjects = (storeReady: () => Promise<void>, projects: ProjectRegistry, readAtStart: boolean) => {
  let read = readAtStart
  return async () => {
    await storeReady()
    if (read) return
    read = true
    projects.refresh().catch(() => {
      read = false
    })
  }
}

/** Batch ids already accepted: those still in the spool, and those stored in the last hour. */
const seenBatches = async (store: Store, spooled: [string, string][]) => {
  const seen = createSeenBatches()
  for (const [project, batch] of spooled) if (batch) seen.add(project, batch)
  const stored = await store.events.recentBatches(Date.now() - 3600_000).catch(() => [])
  for (const b of stored) seen.add(b.project, b.batch)
  return seen
}

/** Source maps from storage, for regrouping errors as they are stored and for showing stacks. */
const sourceMapsOf = (store: Store, config: Config, metrics: Metrics, log: FastifyBaseLogger) =>
  createSourceMaps({
    index: store.sourcemaps.sourceMapIndex,
    load: store.sourcemaps.sourceMap,
    maxBytes: config.sourcemapCacheBytes,
    maxParseMsPer10s: config.sourcemapParseMsPer10s,
    onDeferred: () => metrics.sourceMapLoadsDeferred.inc(),
    missMs: 30_000,
    hitMs: 10 * 60_000,
    onLoad: (seconds, found) => metrics.sourceMapLoadSeconds.observe({ found: String(found) }, seconds),
    log,
  })

type DrainerParts = {
  spool: Spool
  spoolDir: string
  quarantine: Quarantine
  store: Store
  sourcemaps: SourceMaps
  metrics: Metrics
  storeReady: () => Promise<void>
  log: FastifyBaseLogger
}

/** Moves what the spool holds into ClickHouse, errors regrouped by their source maps on the way. */
const drainerOf = ({ spool, spoolDir, quarantine, store, sourcemaps, metrics, storeReady, log }: DrainerParts) =>
  createDrainer({
    spool,
    dir: spoolDir,
    quarantine,
    onQuarantined: (rows) => metrics.rowsQuarantined.inc(rows),
    insert: store.events.insertRaw,
    prepare: async (text) => {
      const r = await regroupRows(text, sourcemaps.regroup)
      metrics.regroupSeconds.observe(r.busySeconds)
      metrics.errorsRegrouped.inc(r.regrouped)
      return r.text
    },
    ready: storeReady,
    onInsert: (rows, seconds) => {
      metrics.rowsStored.inc(rows)
      metrics.insertSeconds.observe(seconds)
    },
    log,
  })

/**
 * The projects re-read every PROJECTS_REFRESH_MS, storage made ready first while it is not. A
 * refresh that fails waits for the next one; intake checks keys against the local copy meanwhile.
 */
const projectRefresher = (projects: ProjectRegistry, storeReady: () => Promise<void>) => {
  let timer: NodeJS.Timeout | undefined
  const refresh = () =>
    storeReady()
      .then(() => projects.refresh())
      .catch(() => undefined)
  return {
    start: () => {
      timer = setInterval(refresh, PROJECTS_REFRESH_MS)
      timer.unref()
    },
    stop: () => clearInterval(timer),
  }
}

/** VIGIL_PUBLIC_URL, or the address the collector listens on once it does. */
const publicUrlOf = (app: FastifyInstance, config: Config) => {
  let listeningUrl = `http://${config.host}:${config.port}`
  app.addHook('onListen', async () => {
    const addr = app.server.address()
    if (addr && typeof addr === 'object') listeningUrl = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`
  })
  return () => config.publicUrl ?? listeningUrl
}

/** When an X-Forwarded-For last came from a peer not in VIGIL_TRUST_PROXY (0: not since start). */
export type UntrustedForwards = { note: () => void; lastAt: () => number }

const untrustedForwardsOf = (metrics: Metrics): UntrustedForwards => {
  let lastAt = 0
  return {
    note: () => {
      lastAt = Date.now()
      metrics.forwardedUntrusted.inc()
    },
    lastAt: () => lastAt,
  }
}

/**
 * Storing runs while the app is ready; the plugins registered after the core start after it and
 * stop before it (onClose hooks run last-registered first). No project refresh starts once
 * closing begins. On close, what was accepted is drained while ClickHouse takes it, storage last.
 */
const coreHooks = (app: FastifyInstance, core: Core, refresher: ReturnType<typeof projectRefresher>) => {
  const { spool, drainer, store } = core
  app.addHook('onReady', async () => {
    drainer.start()
    refresher.start()
  })
  app.addHook('preClose', async () => refresher.stop())
  app.addHook('onClose', async () => {
    // What is accepted stays in the spool if ClickHouse does not take it now: the next start does.
    await spool.close()
    if (!drainer.failing()) await Promise.race([drainer.drained(), new Promise((r) => setTimeout(r, 3000))])
    await drainer.stop()
    await store.close()
  })
}

/**
 * The core, created once: storage opened (and migrated, when it is reachable), the spool recovered,
 * projects loaded, the drainer ready to start with the app.
 */
export const createCore = async (app: FastifyInstance, config: Config): Promise<Core> => {
  const metrics = createMetrics()
  const guard = createSiteGuard(config, metrics)
  const store = await openStore(config)
  const { spool, dir: spoolDir, spooled } = recoverSpool(config, app.log)
  const projects = createProjects(store.projects, join(config.dataDir, 'projects.json'), app.log)
  const ready = storageReadiness(store, config.retentionDays)
  const storeReady = withProjects(ready, projects, await prepareStorage(store, ready, projects, app.log))
  const defaultProject = await projects.ensureDefault(config.projectKey)
  const seen = await seenBatches(store, spooled)
  const sourcemaps = sourceMapsOf(store, config, metrics, app.log)
  const quarantine = openQuarantine(join(spoolDir, 'quarantine'))
  const drainer = drainerOf({ spool, spoolDir, quarantine, store, sourcemaps, metrics, storeReady, log: app.log })
  const drainLag = () => {
    const oldest = spool.oldest()
    return oldest ? Math.max(0, Date.now() - oldest) : 0
  }
  metrics.watch({ spoolBytes: () => spool.bytes(), spoolSegments: () => spool.sealed().length, sourceMapBytes: () => sourcemaps.held().bytes, drainLag: () => drainLag() / 1000 })
  const core: Core = {
    config,
    metrics,
    guard,
    store,
    spool,
    quarantine,
    drainer,
    projects,
    defaultProject,
    seen,
    sourcemaps,
    symbolicate: (project, release, stack) => sourcemaps.symbolicate(project, release, stack, ''),
    upgrades: routeUpgrades(app),
    publicUrl: publicUrlOf(app, config),
    drainLag,
    untrustedForwards: untrustedForwardsOf(metrics),
  }
  coreHooks(app, core, projectRefresher(projects, storeReady))
  return core
}
