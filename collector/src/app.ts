import { join } from 'node:path'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify'
import { adminRoutes } from './admin.js'
import type { Config } from './config.js'
import { dashboardRoutes } from './dashboard.js'
import { createDetector, type Detector, type DetectorOptions } from './detector/index.js'
import { defaultRuleOptions } from './detector/rules.js'
import { AgentNotBuilt, answerBody, BodyTooLarge, InvalidBatch, InvalidJson, NotFound, toAnswer, UnsupportedMediaType } from './errors.js'
import { countRefusal, createAccept } from './ingest/accept.js'
import { createNetworkOf, trustProxy } from './ingest/network.js'
import { createCardinality } from './ingest/cardinality.js'
import { ingestRoutes } from './ingest/route.js'
import { createSeenBatches } from './ingest/seen.js'
import { webSocketIngest } from './ingest/websocket.js'
import { MAX_BODY_BYTES } from './ingest/wire.js'
import { readBuilt } from './lib/readBuilt.js'
import { liveFeed } from './live.js'
import { routeUpgrades } from './upgrades.js'
import { createSiteGuard } from './siteGuard.js'
import { createMetrics, type Metrics } from './metrics.js'
import { alertmanagerNotifier } from './notify/alertmanager.js'
import { createOutbox, type Outbox, type OutboxOptions } from './notify/outbox.js'
import { pagerDutyNotifier } from './notify/pagerduty.js'
import { slackNotifier } from './notify/slack.js'
import { webhookNotifier } from './notify/webhook.js'
import { releaseRoutes } from './releases.js'
import { createSourceMaps, type SourceMaps } from './sourcemaps/cache.js'
import { regroupRows } from './sourcemaps/regroupRows.js'
import { sourceMapRoutes } from './sourcemaps/routes.js'
import type { Notifier } from './notify/types.js'
import { createProjects, type ProjectRegistry } from './projects.js'
import { createDrainer, type Drainer } from './spool/drainer.js'
import { openQuarantine } from './spool/quarantine.js'
import { batchOf } from './spool/record.js'
import { openSpool, type Spool } from './spool/spool.js'
import { openStore, type Project, type Store } from './store/index.js'

export type Vigil = {
  config: Config
  store: Store
  spool: Spool
  drainer: Drainer
  detector: Detector
  outbox: Outbox
  notifiers: Notifier[]
  metrics: Metrics
  projects: ProjectRegistry
  sourcemaps: SourceMaps
  defaultProject: Project
  /** The URL browsers use to reach this collector (known once it listens). */
  publicUrl: () => string
  /** Resolves once everything accepted so far is in ClickHouse (tests, shutdown). */
  stored: () => Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    vigil: Vigil
  }
}

export type BuildOptions = { detector?: Partial<DetectorOptions>; outbox?: Partial<OutboxOptions> }

/** Maps Fastify's own refusals onto our named, coded errors. */
const asApiError = (err: FastifyError, contentType: string, bodyLimit: number): FastifyError => {
  if (err.code?.startsWith('VIGIL_')) return err
  if (err.validation) return new InvalidBatch(err.message)
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new BodyTooLarge(String(bodyLimit))
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new UnsupportedMediaType(contentType || 'no content type')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new InvalidJson(err.message)
  }
  return err
}

/** How often projects are re-read from ClickHouse: a key added through another collector works here within this. */
const PROJECTS_REFRESH_MS = 10_000

/**
 * The collector, not yet listening: spool recovered, storage opened (and migrated, when it is
 * reachable), projects loaded, routes registered, the drainer and the detector started.
 * `listen()` is the caller's (tests use port 0). A ClickHouse server that is down does not stop
 * the collector: intake goes on into the spool. Closing the app drains what it can and stops.
 */
export const buildApp = async (config: Config, options: BuildOptions = {}): Promise<FastifyInstance> => {
  const trust = trustProxy(config.trustProxy)
  const { headersMs, requestMs, idleMs, keepAliveMs } = config.timeouts
  const app = Fastify({
    logger: config.logger,
    bodyLimit: MAX_BODY_BYTES,
    trustProxy: trust,
    // A client that trickles its request in, or keeps a connection it does not use, lets it go
    // (408 or closed): it cannot hold sockets and memory open. Upgraded sockets are ws's, which
    // clears the socket's timeout; Node stops timing a request once it is upgraded.
    connectionTimeout: idleMs,
    keepAliveTimeout: keepAliveMs,
    requestTimeout: requestMs,
    http: { headersTimeout: headersMs, connectionsCheckingInterval: Math.min(5000, Math.max(100, headersMs / 2)) },
  })
  const metrics = createMetrics()
  const guard = createSiteGuard(config, metrics)
  const store = await openStore(config)
  const spoolDir = join(config.dataDir, 'spool')
  // The batches accepted and not yet stored, read as the spool recovers (its only read of them).
  const spooled: [string, string][] = []
  const spool = openSpool({
    dir: spoolDir,
    sealMs: 200,
    maxSegmentBytes: 16 * 1024 * 1024,
    maxBytes: config.spoolMaxBytes,
    onRecovered: (record) => spooled.push(batchOf(record)),
  })
  if (spool.recovered.tornBytes > 0) app.log.warn(`spool: kept ${spool.recovered.records} whole record(s), skipped ${spool.recovered.tornBytes} torn byte(s) that were never acknowledged`)
  const projects = createProjects(store.projects, join(config.dataDir, 'projects.json'), app.log)

  // The schema, the retention and the shared projects, once ClickHouse answers; retried by
  // whoever needs it next (the drainer, the project refresh) while it does not.
  let ready: Promise<void> | undefined
  const storeReady = () =>
    (ready ??= (async () => {
      await store.migrate()
      await store.applyRetention(config.retentionDays)
      await projects.refresh()
    })().catch((err: unknown) => {
      ready = undefined
      throw err
    }))
  try {
    await storeReady()
  } catch (err) {
    if (store.mode === 'embedded') throw err
    app.log.warn({ err }, 'ClickHouse is not reachable: accepting into the spool until it is')
  }
  const defaultProject = await projects.ensureDefault(config.projectKey)

  // Batch ids already accepted: those still in the spool, and those stored in the last hour.
  const seen = createSeenBatches()
  for (const [project, batch] of spooled) if (batch) seen.add(project, batch)
  const stored = await store.events.recentBatches(Date.now() - 3600_000).catch(() => [])
  for (const b of stored) seen.add(b.project, b.batch)

  // Source maps from storage, for regrouping errors as they are stored and for showing stacks.
  const sourcemaps = createSourceMaps({
    index: store.sourcemaps.sourceMapIndex,
    load: store.sourcemaps.sourceMap,
    maxBytes: config.sourcemapCacheBytes,
    maxParseMsPer10s: config.sourcemapParseMsPer10s,
    onDeferred: () => metrics.sourceMapLoadsDeferred.inc(),
    missMs: 30_000,
    hitMs: 10 * 60_000,
    onLoad: (seconds, found) => metrics.sourceMapLoadSeconds.observe({ found: String(found) }, seconds),
    log: app.log,
  })
  const symbolicate = (project: string, release: string, stack: string) => sourcemaps.symbolicate(project, release, stack, '')

  const quarantine = openQuarantine(join(spoolDir, 'quarantine'))
  const drainer = createDrainer({
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
    log: app.log,
  })
  metrics.watch({ spoolBytes: () => spool.bytes(), spoolSegments: () => spool.sealed().length, sourceMapBytes: () => sourcemaps.held().bytes })

  let listeningUrl = `http://${config.host}:${config.port}`
  const publicUrl = () => config.publicUrl ?? listeningUrl
  const notifiers: Notifier[] = []
  if (config.webhookUrl) notifiers.push(webhookNotifier(config.webhookUrl, config.webhookSecret))
  if (config.slackWebhookUrl) notifiers.push(slackNotifier(config.slackWebhookUrl))
  if (config.pagerdutyRoutingKey) notifiers.push(pagerDutyNotifier(config.pagerdutyRoutingKey, config.pagerdutyUrl))
  if (config.alertmanagerUrl) notifiers.push(alertmanagerNotifier(config.alertmanagerUrl, publicUrl))
  const live = liveFeed(app, config, guard)
  const outbox = createOutbox(
    {
      store: store.alerts,
      notifiers,
      metrics,
      log: app.log,
      onAttempt: (d) => live.publish({ type: 'delivery', project: d.project, alert: d.alert, notifier: d.notifier, status: d.status, at: new Date(d.updated).toISOString() }),
    },
    options.outbox,
  )
  const detector = createDetector(
    {
      store: store.detector,
      alertStore: store.alerts,
      outbox,
      projectIds: () => projects.ids(),
      publicUrl,
      log: app.log,
      onLook: (at) => live.publish({ type: 'look', at: new Date(at).toISOString() }),
      onLookDone: (ok, seconds) => metrics.lookSeconds.observe({ result: ok ? 'done' : 'failed' }, seconds),
      onAlert: (a, summary) =>
        live.publish({ type: 'alert', status: a.status, project: a.project, environment: a.env, release: a.release, summary, at: new Date(a.updated).toISOString() }),
      symbolicate,
      onSkipped: (n) => metrics.releasesSkipped.inc(n),
    },
    {
      intervalMs: config.evalIntervalMs,
      rules: { ...defaultRuleOptions, flowThresholds: config.flowThresholds },
      // What intake lets a project bring in an hour, the detector judges in one look.
      ...(config.limits.releases > 0 ? { maxReleasesPerEnvironment: config.limits.releases } : {}),
      ...(config.limits.environments > 0 ? { maxEnvironments: config.limits.environments } : {}),
      ...options.detector,
    },
  )
  // When an X-Forwarded-For last came from a peer not in VIGIL_TRUST_PROXY (0: not since start).
  let untrustedForwardAt = 0
  const drainLag = () => {
    const oldest = spool.oldest()
    return oldest ? Math.max(0, Date.now() - oldest) : 0
  }
  metrics.watch({ drainLag: () => drainLag() / 1000, lookLag: () => detector.lag().sinceLastLook / 1000 })
  app.decorate('vigil', { config, store, spool, drainer, detector, outbox, notifiers, metrics, projects, sourcemaps, defaultProject, publicUrl, stored: () => drainer.drained() })

  app.setErrorHandler((error: FastifyError & { retryAfter?: number }, req, reply) => {
    const a = toAnswer(asApiError(error, req.headers['content-type'] ?? '', req.routeOptions.bodyLimit ?? MAX_BODY_BYTES))
    if (a.internal) req.log.error({ err: error }, 'request failed')
    if (req.url.startsWith('/v1/ingest')) countRefusal(metrics, a.code, req.body, error)
    else if (req.method === 'POST' && req.url.startsWith('/v1/sourcemaps')) metrics.sourceMapUploads.inc({ result: a.code })
    if (a.retryAfter) reply.header('retry-after', String(a.retryAfter))
    reply.code(a.status).send(answerBody(a))
  })
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(answerBody(toAnswer(new NotFound(`No route ${req.method} ${req.url}`))))
  })

  // Up (it answers) and, when something needs an operator, `degraded` with the reasons.
  app.get('/healthz', async () => {
    const storageReachable = await store.ping()
    const held = quarantine.held()
    const failingFor = drainer.failingFor()
    const waited = drainLag()
    const look = detector.lag()
    const reasons = [
      ...(storageReachable ? [] : ['storage is unreachable: events wait in the spool']),
      ...(failingFor > 60_000 ? [`storing has failed for ${Math.round(failingFor / 1000)} s: events wait in the spool`] : []),
      ...(held.last && Date.now() - held.last < 3600_000 ? [`ClickHouse refused rows in the last hour: ${held.rows} held in ${quarantine.dir}`] : []),
      ...(spool.bytes() > config.spoolMaxBytes / 2 ? ['the spool is more than half full (VIGIL_SPOOL_MAX_MB)'] : []),
      ...(untrustedForwardAt && Date.now() - untrustedForwardAt < 3600_000
        ? ['X-Forwarded-For comes from a peer not in VIGIL_TRUST_PROXY: every client behind that proxy counts as one network, and no release can be judged bad on their failures']
        : []),
      ...(waited > 60_000 ? [`the oldest accepted event has waited ${Math.round(waited / 1000)} s for ClickHouse: the drain is behind`] : []),
      ...(look.sinceLastLook > 3 * look.intervalMs
        ? [`the detector's last look completed ${Math.round(look.sinceLastLook / 1000)} s ago (due every ${Math.round(look.intervalMs / 1000)} s): it is behind`]
        : []),
    ]
    return {
      status: reasons.length ? 'degraded' : 'ok',
      reasons,
      storage: store.mode,
      storageReachable,
      spoolBytes: spool.bytes(),
      spoolSegmentsPending: spool.sealed().length,
      drainLagSeconds: Math.round(waited / 1000),
      detectorLagSeconds: Math.round(look.sinceLastLook / 1000),
      quarantinedRows: held.rows,
    }
  })

  app.get('/metrics', async (_req, reply) => {
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })

  const agentFile = (name: string) => async (_req: unknown, reply: FastifyReply) => {
    let body: Buffer
    try {
      body = await readBuilt(join(config.distDir, 'agent', name))
    } catch {
      throw new AgentNotBuilt()
    }
    reply
      .type('text/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=300')
      .header('access-control-allow-origin', '*')
      .header('cross-origin-resource-policy', 'cross-origin')
      .send(body)
  }
  app.get('/vigil.js', agentFile('vigil.js'))
  app.get('/vitals.js', agentFile('vitals.js'))

  // Names each project may bring per hour; those storage saw in the last hour keep their places.
  const cardinality = createCardinality({ limits: config.limits, windowMs: config.limits.windowMs })
  try {
    for (const id of projects.ids()) cardinality.seed(id, await store.detector.releases(id), Date.now())
  } catch (err) {
    app.log.warn({ err }, 'the releases of the last hour could not be read: their limits start afresh')
  }
  const accept = createAccept({ projects, spool, seen, metrics, cardinality, networkOf: createNetworkOf(config.dataDir, trust, () => {
      untrustedForwardAt = Date.now()
      metrics.forwardedUntrusted.inc()
    }), defaultRateLimit: config.rateLimit, log: app.log })
  await app.register(ingestRoutes(accept))
  routeUpgrades(app, { '/v1/ws': webSocketIngest(app, accept, metrics), '/v1/live': live.upgrade })
  await app.register(adminRoutes(config, guard, projects, notifiers, publicUrl))
  await app.register(sourceMapRoutes({ config, guard, store: store.sourcemaps, projects, sourcemaps, metrics }))

  await app.register(releaseRoutes({ config, guard, store: store.pages, detector, projects, symbolicate }))

  await app.register(dashboardRoutes(config, guard, metrics))

  let refresher: NodeJS.Timeout | undefined
  app.addHook('onListen', async () => {
    const addr = app.server.address()
    if (addr && typeof addr === 'object') listeningUrl = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`
  })
  app.addHook('onReady', async () => {
    drainer.start()
    outbox.start()
    refresher = setInterval(() => {
      // storeReady refreshes the projects itself when this call is the one that gets it ready;
      // once it is ready (it remembers), the refresh is this timer's.
      const already = ready
      storeReady()
        .then(() => already && projects.refresh())
        .catch(() => undefined)
    }, PROJECTS_REFRESH_MS)
    refresher.unref()
    detector.start()
  })
  app.addHook('onClose', async () => {
    clearInterval(refresher)
    await detector.stop()
    await outbox.stop()
    // What is accepted stays in the spool if ClickHouse does not take it now: the next start does.
    await spool.close()
    if (!drainer.failing()) await Promise.race([drainer.drained(), new Promise((r) => setTimeout(r, 3000))])
    await drainer.stop()
    await store.close()
  })
  return app
}
