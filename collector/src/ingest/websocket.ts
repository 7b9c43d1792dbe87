import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import type { RawData, WebSocket } from 'ws'
import { InvalidBatch, InvalidJson } from '../errors.js'
import type { Metrics } from '../metrics.js'
import { wsServer, type UpgradeHandler } from '../upgrades.js'
import type { Accept } from './accept.js'
import { refuse } from './refusals.js'
import { strictAjv } from './route.js'
import { envelopeSchema, MAX_BODY_BYTES, type Envelope } from './wire.js'

const validEnvelope = strictAjv.compile(envelopeSchema)

/** The answer to one message: the batch id, then what HTTP would have answered. */
export type Ack = { id?: string; status: number } & Record<string, unknown>

/**
 * `GET /v1/ws`: ingest for devices that keep a connection (smart TVs, set-top boxes, Node).
 * Each message is one batch in the wire format; each gets an answer message with the batch id
 * and the status and body the HTTP route would have given. The key is the batch's `k`, or
 * `?key=` on the connection URL.
 */
export const webSocketIngest = (app: FastifyInstance, accept: Accept, metrics: Metrics): UpgradeHandler => {
  const wss = wsServer(app, MAX_BODY_BYTES)

  const handle = async (ws: WebSocket, data: RawData, req: IncomingMessage, key: string | undefined) => {
    let body: unknown
    let id: string | undefined
    try {
      try {
        body = JSON.parse(data.toString())
      } catch (err) {
        throw new InvalidJson((err as Error).message)
      }
      // The id, when there is one, goes back even with a refusal: the client matches acks by it.
      const maybeId = (body as { id?: unknown } | null)?.id
      if (typeof maybeId === 'string') id = maybeId
      if (!validEnvelope(body)) {
        const e = validEnvelope.errors?.[0]
        throw new InvalidBatch(`${e?.instancePath || 'batch'} ${e?.message ?? 'is invalid'}`)
      }
      const batch = body as Envelope
      const result = await accept(batch, { key, userAgent: req.headers['user-agent'] ?? '', origin: req.headers.origin, req })
      ws.send(JSON.stringify({ id, status: 202, ...result } satisfies Ack))
    } catch (err) {
      const a = refuse(metrics, err, body)
      if (a.internal) app.log.error({ err }, 'websocket ingest failed')
      if (ws.readyState === ws.OPEN)
        ws.send(JSON.stringify({ id, status: a.status, code: a.code, message: a.message, ...(a.retryAfter ? { retryAfter: a.retryAfter } : {}) } satisfies Ack))
    }
  }

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://x')
    wss.handleUpgrade(req, socket, head, (ws) => {
      const key = url.searchParams.get('key') ?? undefined
      ws.on('message', (data) => void handle(ws, data, req, key))
      ws.on('error', () => ws.terminate())
    })
  }

  return onUpgrade
}
