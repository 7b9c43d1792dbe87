import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export type Received = { path: string; headers: IncomingHttpHeaders; body: string; json: unknown; at: number }

/**
 * A webhook receiver on 127.0.0.1 that records what it is sent. `answer` sets its answer (status,
 * body, headers); `hold` makes it a receiver that never answers (requests recorded, then held open
 * until their sender gives up, dies or the receiver closes).
 */
export const startReceiver = async () => {
  const received: Received[] = []
  const held = new Map<ServerResponse, Received>()
  let status = 200
  let answerBody = ''
  let answerHeaders: Record<string, string> = {}
  let holding = false
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      let json: unknown
      try {
        json = JSON.parse(body)
      } catch {
        json = undefined
      }
      const r: Received = { path: req.url ?? '', headers: req.headers, body, json, at: Date.now() }
      received.push(r)
      if (!holding) return res.writeHead(status, answerHeaders).end(answerBody)
      held.set(res, r)
      res.once('close', () => held.delete(res))
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/hook`,
    origin: `http://127.0.0.1:${port}`,
    received,
    answer: (s: number, body = '', headers: Record<string, string> = {}) => {
      status = s
      answerBody = body
      answerHeaders = headers
    },
    /** From now on (`false`: no longer) requests get no answer. */
    hold: (on = true) => {
      holding = on
    },
    /** The requests held and still open (their sender is still waiting), as recorded in `received`. */
    holding: () => [...held.values()],
    close: () => {
      server.closeAllConnections()
      return new Promise<void>((r) => server.close(() => r()))
    },
  }
}
