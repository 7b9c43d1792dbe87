import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'

export type Received = { path: string; headers: IncomingHttpHeaders; body: string; json: unknown; at: number }

/** A webhook receiver on 127.0.0.1 that records what it is sent. `answer` sets its answer (status, body, headers). */
export const startReceiver = async () => {
  const received: Received[] = []
  let status = 200
  let answerBody = ''
  let answerHeaders: Record<string, string> = {}
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
      received.push({ path: req.url ?? '', headers: req.headers, body, json, at: Date.now() })
      res.writeHead(status, answerHeaders).end(answerBody)
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
    close: () => new Promise<void>((r) => server.close(() => r())),
  }
}
