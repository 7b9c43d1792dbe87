import { join } from 'node:path'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Config } from '../config.js'
import { AgentNotBuilt } from '../errors.js'
import { readBuilt } from '../lib/readBuilt.js'

/** `GET /vigil.js` and `GET /vitals.js`: the agent as built, for any site's pages to load. */
export const agentFilesPlugin = (config: Pick<Config, 'distDir'>) => async (app: FastifyInstance) => {
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
}
