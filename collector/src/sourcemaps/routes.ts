import type { FastifyInstance, FastifyRequest } from 'fastify'
import { mayAdminister } from '../auth.js'
import type { Config } from '../config.js'
import { errorHandler, NotFound, SourceMapNoFile, toAnswer, TooManySourceMaps, UploadForbidden } from '../errors.js'
import { pathOf } from '../grouping/stack.js'
import { decodeBodies } from '../ingest/route.js'
import { LIMITS } from '../ingest/normalise.js'
import type { Metrics } from '../metrics.js'
import { DEFAULT_PROJECT, type ProjectRegistry } from '../projects.js'
import type { SiteGuard } from '../siteGuard.js'
import type { Project, SourceMapStore } from '../store/index.js'
import type { SourceMaps } from './cache.js'
import { parseSourceMap } from './parse.js'

/** The most maps one release may have: a build's chunks, not a node_modules by mistake. */
const MAX_MAPS_PER_RELEASE = 1000

export type SourceMapDeps = { config: Config; guard: SiteGuard; store: SourceMapStore; projects: ProjectRegistry; sourcemaps: SourceMaps; metrics: Metrics }

const query = {
  type: 'object',
  required: ['release'],
  properties: {
    release: { type: 'string', minLength: 1, maxLength: LIMITS.release },
    project: { type: 'string', maxLength: 40 },
    url: { type: 'string', maxLength: LIMITS.url },
    debug_id: { type: 'string', maxLength: 100 },
  },
} as const
type Query = { release: string; project?: string; url?: string; debug_id?: string }

const mapInfo = {
  type: 'object',
  properties: {
    project: { type: 'string' },
    release: { type: 'string' },
    path: { type: 'string' },
    debug_id: { type: 'string' },
    bytes: { type: 'integer' },
    sources: { type: 'integer' },
    uploaded: { type: 'string' },
  },
} as const

/**
 * The URL path a frame of the minified file will show, from what an uploader says:
 * `https://cdn.example/app/main.js`, `~/app/main.js` (Sentry's "any host"), `app/main.js`.
 */
const urlPath = (url: string): string => {
  const path = pathOf(url.replace(/^~/, ''))
  return path.startsWith('/') ? path : `/${path}`
}

/**
 * POST /v1/sourcemaps?release=R&url=/assets/app-1a2b.js: one source map, the body as the build
 * wrote it (gzip welcome). With the project's upload token as a bearer it is that project's (from
 * anywhere, by any name); with the admin token (or from this machine, but not from another
 * site's page, when none is set), `project` says whose (default: the default project). GET
 * with the same rights lists a release's maps. The newest upload of a file wins; this
 * collector uses it at once, the others of a cluster within a minute.
 */
export const sourceMapRoutes = (deps: SourceMapDeps) => async (app: FastifyInstance) => {
  // Uploads refused are counted by their code; this plugin is encapsulated, so only its routes come here.
  app.setErrorHandler(
    errorHandler((err, req) => {
      const a = toAnswer(err)
      if (req.method === 'POST') deps.metrics.sourceMapUploads.inc({ result: a.code })
      return a
    }),
  )
  await decodeBodies(app)
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: deps.config.sourcemapMaxBytes }, (_req, body, done) => done(null, body))

  const projectOf = (req: FastifyRequest) => {
    const asked = (req.query as Partial<Query>).project
    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1]
    const byToken = bearer ? deps.projects.forUploadToken(bearer) : undefined
    if (byToken) {
      if (asked && asked !== byToken.id) throw new UploadForbidden()
      return byToken
    }
    // As an admin API: not for another site's page, nor under another host name.
    const refused = deps.guard.refusal(req.raw)
    if (refused) throw refused
    if (!mayAdminister(deps.config, req.raw)) throw new UploadForbidden()
    const id = asked ?? DEFAULT_PROJECT
    const p = deps.projects.get(id)
    if (!p) throw new NotFound(`No project ${id}`)
    return p
  }
  // Before the body is read: a stranger's upload is refused without inflating or holding it.
  const allowed = new WeakMap<FastifyRequest, Project>()
  app.addHook('onRequest', async (req) => {
    allowed.set(req, projectOf(req))
  })

  app.post<{ Querystring: Query; Body: string }>(
    '/v1/sourcemaps',
    { bodyLimit: deps.config.sourcemapMaxBytes, schema: { querystring: query, response: { 201: mapInfo } } },
    async (req, reply) => {
      const project = allowed.get(req)!
      const text = typeof req.body === 'string' ? req.body : ''
      const map = parseSourceMap(text)
      const file = req.query.url ?? (typeof map.file === 'string' && map.file ? map.file : undefined)
      if (!file) throw new SourceMapNoFile()
      const path = urlPath(file)
      const { release } = req.query
      const existing = await deps.store.sourceMaps(project.id, release)
      if (existing.length >= MAX_MAPS_PER_RELEASE && !existing.some((m) => m.path === path)) throw new TooManySourceMaps(release, String(existing.length))
      // Sentry's debug id, when the build put one in (`debugId`, or `debug_id` as older tools write it).
      const debugId = req.query.debug_id ?? /"debug_?[iI]d"\s*:\s*"([^"\\]{1,100})"/.exec(text)?.[1] ?? ''
      const row = { project: project.id, release, path, debug_id: debugId, map: text, bytes: Buffer.byteLength(text), sources: map.sources.length, uploaded: Date.now() }
      await deps.store.saveSourceMap(row)
      deps.sourcemaps.forget(project.id, release)
      deps.metrics.sourceMapUploads.inc({ result: 'stored' })
      reply.code(201)
      return { ...row, uploaded: new Date(row.uploaded).toISOString() }
    },
  )

  app.get<{ Querystring: Query }>(
    '/v1/sourcemaps',
    { schema: { querystring: query, response: { 200: { type: 'object', properties: { maps: { type: 'array', items: mapInfo } } } } } },
    async (req) => {
      const project = allowed.get(req)!
      const maps = await deps.store.sourceMaps(project.id, req.query.release)
      return { maps: maps.map((m) => ({ ...m, uploaded: new Date(m.uploaded).toISOString() })) }
    },
  )
}
