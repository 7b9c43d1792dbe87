import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { WebSocketServer } from 'ws'
import { answerBody, toAnswer } from './errors.js'

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void

/** The paths a WebSocket may be opened on, each added by the plugin that serves it. */
export type Upgrades = { add: (path: string, handler: UpgradeHandler) => void }

/**
 * WebSocket upgrades by path (`/v1/ws` for devices, `/v1/live` for the dashboard); others get a
 * 404. One listener on the server for all of them, whichever plugin adds a path.
 */
export const routeUpgrades = (app: FastifyInstance): Upgrades => {
  const routes = new Map<string, UpgradeHandler>()
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const handler = routes.get(new URL(req.url ?? '/', 'http://x').pathname)
    if (handler) handler(req, socket, head)
    else socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n')
  }
  app.server.on('upgrade', onUpgrade)
  app.addHook('onClose', async () => void app.server.off('upgrade', onUpgrade))
  return {
    add: (path, handler) => {
      if (routes.has(path)) throw new Error(`two handlers for upgrades to ${path}`)
      routes.set(path, handler)
    },
  }
}

/** Refuses an upgrade with what HTTP would answer: the error's status and its JSON body. */
export const refuseUpgrade = (socket: Duplex, err: Error & { statusCode?: number; code?: string }) => {
  const answer = answerBody(toAnswer(err))
  const body = JSON.stringify(answer)
  socket.end(`HTTP/1.1 ${answer.statusCode} ${answer.error}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
}

/**
 * A WebSocket server for one upgrade path, closed (and its clients dropped) with the app — before
 * the HTTP server closes, which waits for every connection, upgraded ones included: an open
 * dashboard would otherwise keep the collector from stopping.
 */
export const wsServer = (app: FastifyInstance, maxPayload: number): WebSocketServer => {
  const wss = new WebSocketServer({ noServer: true, maxPayload })
  app.addHook('preClose', async () => {
    for (const ws of wss.clients) ws.terminate()
    await new Promise<void>((r) => wss.close(() => r()))
  })
  return wss
}
