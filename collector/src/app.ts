import { STATUS_CODES } from 'node:http'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify'
import type { Config } from './config.js'
import { dashboardRoutes } from './dashboard.js'
import { createDetector, type Detector, type DetectorOptions } from './detector/index.js'
import { AgentNotBuilt, BodyTooLarge, InvalidBatch, InvalidJson, NotFound, UnsupportedMediaType } from './errors.js'
import { countRefusal, createAccept } from './ingest/accept.js'
import { ingestRoutes } from './ingest/route.js'
import { attachWebSocketIngest } from './ingest/websocket.js'
import { createSeenBatches } from './ingest/seen.js'
import { createWriter, type Writer } from './ingest/writer.js'
import { createMetrics, type Metrics } from './metrics.js'
import { webhookNotifier } from './notify/webhook.js'
import type { Notifier } from './notify/types.js'
import { ensureDefaultProject, DEFAULT_PROJECT } from './projects.js'
import { openStore, type Project, type Store } from './store/index.js'

export type Vigil = {
  config: Config
  store: Store
  writer: Writer
  detector: Detector
  metrics: Metrics
  defaultProject: Project
  /** The URL browsers use to reach this collector (known once it listens). */
  publicUrl: () => string
}

declare module 'fastify' {
  interface FastifyInstance {
    vigil: Vigil
  }
}

export type BuildOptions = { detector?: Partial<DetectorOptions> }

/** Maps Fastify's own refusals onto our named, coded errors. */
const asApiError = (err: FastifyError, contentType: string): FastifyError => {
  if (err.code?.startsWith('VIGIL_')) return err
  if (err.validation) return new InvalidBatch(err.message)
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new BodyTooLarge(String(err.message.match(/\d+/)?.[0] ?? ''))
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new UnsupportedMediaType(contentType || 'no content type')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new InvalidJson(err.message)
  }
  return err
}

/**
 * The collector, not yet listening: storage opened and migrated, the default project loaded,
 * routes registered, the detector started. `listen()` is the caller's (tests use inject or
 * port 0). Closing the app stops the detector and closes the store.
 */
export const buildApp = async (config: Config, options: BuildOptions = {}): Promise<FastifyInstance> => {
  const store = await openStore(config)
  await store.migrate()
  const defaultProject = await ensureDefaultProject(store, config.projectKey)
  const keys = new Map((await store.projects()).map((p) => [p.ingestKey, p.id]))

  const app = Fastify({ logger: config.logger, bodyLimit: 1024 * 1024 })
  const metrics = createMetrics()
  const writer = createWriter(store)
  const notifiers: Notifier[] = []
  if (config.webhookUrl) notifiers.push(webhookNotifier(config.webhookUrl, config.webhookSecret))

  let listeningUrl = `http://${config.host}:${config.port}`
  const publicUrl = () => config.publicUrl ?? listeningUrl
  const detector = createDetector(
    {
      store,
      notifiers,
      metrics,
      projectIds: () => [...new Set(keys.values())],
      publicUrl,
      log: app.log,
    },
    { intervalMs: config.evalIntervalMs, ...options.detector },
  )
  app.decorate('vigil', { config, store, writer, detector, metrics, defaultProject, publicUrl })

  app.setErrorHandler((error: FastifyError, req, reply) => {
    const err = asApiError(error, req.headers['content-type'] ?? '')
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500
    const ours = typeof err.code === 'string' && err.code.startsWith('VIGIL_')
    const code = ours ? err.code : status < 500 && err.code?.startsWith('FST_') ? err.code : 'VIGIL_INTERNAL'
    if (status >= 500) req.log.error({ err: error }, 'request failed')
    if (req.url.startsWith('/v1/ingest')) countRefusal(metrics, code, req.body)
    if (code === 'VIGIL_STORE_UNAVAILABLE') reply.header('retry-after', '5')
    reply.code(status).send({
      statusCode: status,
      code,
      error: STATUS_CODES[status] ?? 'Error',
      message: status >= 500 && !ours ? 'Internal error' : err.message,
    })
  })
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ statusCode: 404, code: new NotFound('').code, error: 'Not Found', message: `No route ${req.method} ${req.url}` })
  })

  app.get('/healthz', async () => ({ status: 'ok', storage: store.mode, storageReachable: await store.ping() }))

  app.get('/metrics', async (_req, reply) => {
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })

  const agentFile = (name: string) => async (_req: unknown, reply: FastifyReply) => {
    let body: Buffer
    try {
      body = await readFile(join(config.distDir, 'agent', name))
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

  const accept = createAccept({ projectForKey: (k) => keys.get(k), writer, seen: createSeenBatches(), metrics, log: app.log })
  await app.register(ingestRoutes(accept))
  attachWebSocketIngest(app, accept, metrics)

  const releasesQuery = {
    type: 'object',
    properties: { project: { type: 'string', default: DEFAULT_PROJECT }, env: { type: 'string' } },
  } as const
  app.get<{ Querystring: { project: string; env?: string } }>(
    '/v1/releases',
    { schema: { querystring: releasesQuery } },
    async (req) => ({ project: req.query.project, releases: await store.releases(req.query.project, req.query.env) }),
  )

  app.get<{ Querystring: { project: string } }>(
    '/v1/alerts',
    { schema: { querystring: { type: 'object', properties: { project: { type: 'string', default: DEFAULT_PROJECT } } } } },
    async (req) => ({
      project: req.query.project,
      alerts: (await store.alerts(req.query.project)).map(({ payload, ...a }) => ({ ...a, data: JSON.parse(payload) as unknown })),
    }),
  )

  await app.register(dashboardRoutes(config))

  app.addHook('onListen', async () => {
    const addr = app.server.address()
    if (addr && typeof addr === 'object') listeningUrl = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`
  })
  app.addHook('onReady', async () => detector.start())
  app.addHook('onClose', async () => {
    await detector.stop()
    await writer.drain()
    await store.close()
  })
  return app
}
