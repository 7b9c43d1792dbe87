import type { FastifyInstance } from 'fastify'
import { mayAdminister } from './auth.js'
import type { Config } from './config.js'
import { AdminOnly, BadRequest, NotFound } from './errors.js'
import type { ProjectRegistry, Settings } from './projects.js'
import { defaultOutbox } from './notify/outbox.js'
import type { SiteGuard } from './siteGuard.js'
import type { AlertMessage, Notifier } from './notify/types.js'
import type { Project } from './store/types.js'

const projectSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    ingestKey: { type: 'string' },
    origins: { type: 'array', items: { type: 'string' } },
    previousKey: { type: 'string' },
    previousKeyUntil: { type: 'number' },
    rateLimit: { type: 'integer' },
    transactionFlows: { type: 'object', additionalProperties: { type: 'string' } },
    uploadToken: { type: 'string' },
    updated: { type: 'number' },
  },
} as const

/** Transactions (root spans) taken as flows: name or op → flow. */
const transactionFlows = {
  type: 'object',
  maxProperties: 100,
  propertyNames: { minLength: 1, maxLength: 200 },
  additionalProperties: { type: 'string', minLength: 1, maxLength: 200 },
} as const

const origins = { type: 'array', maxItems: 100, items: { type: 'string', pattern: '^(\\*|https?://[^/\\s]+)$' } } as const

export type AdminDeps = { config: Config; guard: SiteGuard; projects: ProjectRegistry; notifiers: Notifier[]; publicUrl: () => string }

/**
 * Projects, for `npx vigil project …` and operators: list, add, change, rotate a key or the upload
 * token; a test alert. Never for another site's page (a form or a no-cors fetch needs no preflight).
 */
export const adminRoutes = ({ config, guard, projects, notifiers, publicUrl }: AdminDeps) => async (app: FastifyInstance) => {
  app.addHook('onRequest', guard.onRequest)
  app.addHook('onRequest', async (req) => {
    if (!mayAdminister(config, req.raw)) throw new AdminOnly()
  })
  const found = (p: Project | undefined, id: string) => {
    if (!p) throw new NotFound(`No project ${id}`)
    return p
  }

  // A sample alert straight through every notifier (not the outbox): `npx vigil alert test`.
  app.post('/v1/alerts/test', async () => {
    const now = Date.now()
    const msg: AlertMessage = {
      id: `msg_test_${now}`,
      type: 'release.regression.firing',
      at: now,
      data: {
        alert_id: 'default/production/test/flow_failure/login',
        status: 'firing',
        severity: 'warning',
        test: true,
        project: 'default',
        environment: 'production',
        release: 'test',
        rule: 'flow_failure',
        subject: 'login',
        flow: 'login',
        summary: 'A test alert from Vigil: login failed in 20.0% of sessions on test (20/100) against 2.0% on 1.0.0 (concurrent, 40/2000)',
        fired_at: new Date(now).toISOString(),
        dashboard_url: `${publicUrl()}/`,
      },
    }
    const sent = await Promise.all(
      notifiers.map(async (n) => {
        try {
          await n.send(msg, AbortSignal.timeout(defaultOutbox.attemptTimeoutMs))
          return { notifier: n.name, ok: true }
        } catch (err) {
          return { notifier: n.name, ok: false, error: String((err as Error).message ?? err) }
        }
      }),
    )
    return { sent }
  })

  app.get('/v1/projects', { schema: { response: { 200: { type: 'object', properties: { projects: { type: 'array', items: projectSchema } } } } } }, async () => ({
    projects: projects.list(),
  }))

  app.post<{ Body: Settings & { name: string; id?: string } }>(
    '/v1/projects',
    {
      schema: {
        body: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 100 },
            id: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,39}$' },
            origins,
            rateLimit: { type: 'integer', minimum: 0 },
            transactionFlows,
          },
        },
        response: { 201: projectSchema },
      },
    },
    async (req, reply) => {
      if (req.body.id && projects.get(req.body.id)) throw new BadRequest(`project ${req.body.id} exists`)
      reply.code(201)
      return projects.add(req.body.name, req.body)
    },
  )

  app.patch<{ Params: { id: string }; Body: Settings & { name?: string } }>(
    '/v1/projects/:id',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { name: { type: 'string', minLength: 1, maxLength: 100 }, origins, rateLimit: { type: 'integer', minimum: 0 }, transactionFlows },
        },
        response: { 200: projectSchema },
      },
    },
    async (req) => found(await projects.update(req.params.id, req.body), req.params.id),
  )

  app.post<{ Params: { id: string }; Body: { graceHours?: number } | undefined }>(
    '/v1/projects/:id/rotate-key',
    {
      schema: {
        body: { type: ['object', 'null'], additionalProperties: false, properties: { graceHours: { type: 'number', minimum: 0, maximum: 720 } } },
        response: { 200: projectSchema },
      },
    },
    async (req) => found(await projects.rotateKey(req.params.id, (req.body?.graceHours ?? 24) * 3600_000), req.params.id),
  )

  app.post<{ Params: { id: string } }>(
    '/v1/projects/:id/rotate-upload-token',
    { schema: { response: { 200: projectSchema } } },
    async (req) => found(await projects.rotateUploadToken(req.params.id), req.params.id),
  )
}
