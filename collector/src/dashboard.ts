import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Config } from './config.js'
import { NotFound } from './errors.js'

/** Agents' strings are shown as text; no inline script or style is ever needed, so none is allowed. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ')

const FILES: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
}

/** The health page at `/` and `/releases/:release`, self-contained (no CDN). */
export const dashboardRoutes = (config: Config) => async (app: FastifyInstance) => {
  const dir = join(config.distDir, 'dashboard')
  const send = async (file: string, type: string, reply: FastifyReply) => {
    let body: Buffer
    try {
      body = await readFile(join(dir, file))
    } catch {
      throw new NotFound('The dashboard is not built: run `npm run build`')
    }
    reply
      .type(type)
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-cache')
      .send(body)
  }
  const page = async (_req: unknown, reply: FastifyReply) => send('index.html', 'text/html; charset=utf-8', reply)
  app.get('/', page)
  app.get('/releases/:release', page)
  app.get<{ Params: { file: string } }>('/ui/:file', async (req, reply) => {
    const type = FILES[req.params.file]
    if (!type) throw new NotFound(`No file ${req.params.file}`)
    return send(req.params.file, type, reply)
  })
}
