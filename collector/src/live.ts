import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { mayRead } from './auth.js'
import type { Config } from './config.js'
import { LoginRequired } from './errors.js'
import type { SiteGuard } from './siteGuard.js'
import { refuseUpgrade, wsServer, type UpgradeHandler } from './upgrades.js'

/** What the dashboard is told: a look happened (numbers and verdicts may have changed), an alert changed, or a notifier was tried. */
export type LiveEvent =
  | { type: 'look'; at: string }
  | { type: 'alert'; status: 'firing' | 'resolved'; project: string; environment: string; release: string; summary: string; at: string }
  | { type: 'delivery'; project: string; alert: string; notifier: string; status: 'pending' | 'delivered' | 'failed'; at: string }

/**
 * `GET /v1/live`: a WebSocket the dashboard keeps open. After every look of the detector, at
 * every alert change and at every notifier attempt, each open page is told, and fetches what
 * changed. Reading it needs what reading the dashboard needs, from the collector's own pages
 * (browsers send every WebSocket's Origin: another site's page is refused before the upgrade).
 */
export const liveFeed = (app: FastifyInstance, config: Config, guard: SiteGuard) => {
  const wss = wsServer(app, 1024)
  const upgrade: UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refused = guard.refusal(req) ?? (mayRead(config, req) ? undefined : new LoginRequired())
    if (refused) return refuseUpgrade(socket, refused)
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => ws.terminate())
      ws.send(JSON.stringify({ type: 'look', at: new Date().toISOString() } satisfies LiveEvent))
    })
  }
  const send = (event: LiveEvent) => {
    const text = JSON.stringify(event)
    for (const ws of wss.clients) if (ws.readyState === ws.OPEN) ws.send(text)
  }
  // Run before an event is sent (the read API renews its answers after a look — bounding its own
  // wait — and drops them on an alert or a delivery): a page told of a change reads the change.
  const hooks: ((event: LiveEvent) => Promise<void> | void)[] = []
  const publish = (event: LiveEvent) => {
    if (hooks.length === 0) return send(event)
    void Promise.allSettled(hooks.map(async (h) => h(event))).then(() => send(event))
  }
  return { upgrade, publish, before: (hook: (event: LiveEvent) => Promise<void> | void) => void hooks.push(hook) }
}

export type LiveFeed = ReturnType<typeof liveFeed>
