import { createServer, request, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A page or an API's answer: `status` (default 200), or `hang` (no answer ever: a request that times out). */
export type Page = { body: string; type?: string; headers?: Record<string, string>; status?: number; hang?: boolean }
export type Pages = Record<string, Page | ((q: URLSearchParams) => Page)>
export type IngestSeen = { body: string; status: number; headers: IncomingHttpHeaders; at: number }

/**
 * A real web app on 127.0.0.1: serves its pages and, like a site that keeps everything on one
 * origin, passes `/vigil.js`, `/vitals.js` and `/v1/*` through to the collector. Every ingest
 * request is recorded. `failAfterForwarding(n, matching)` makes the next n such ingest requests reach the
 * collector and then answers them 503 (the answer was lost, the batch was stored): the agent
 * must retry, and the collector must store the batch once. `networkDown(true)` cuts every
 * request for the collector at the socket, as a network that is down does, whatever the
 * browser's own offline emulation lets through.
 */
export const startAppServer = async (collectorUrl: string, pages: Pages) => {
  const target = new URL(collectorUrl)
  const ingest: IngestSeen[] = []
  let failNext = 0
  let failMatching = ''
  let retryAfter = '1'
  let down = false

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    // `/api/plans/:id` serves /api/plans/1, /api/plans/2, …
    const page = pages[url.pathname] ?? pages[url.pathname.replace(/\/\d+(?=\/|$)/g, '/:id')]
    if (page !== undefined) {
      const p = typeof page === 'function' ? page(url.searchParams) : page
      if (p.hang) return
      res.writeHead(p.status ?? 200, { 'content-type': p.type ?? 'text/html; charset=utf-8', 'cache-control': 'no-store', ...p.headers }).end(p.body)
      return
    }
    if (!/^\/(vigil\.js|vitals\.js|v1\/)/.test(url.pathname)) return void res.writeHead(404).end()
    if (down) return void req.socket.destroy()
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const forward = request(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } },
        (up) => {
          const upChunks: Buffer[] = []
          up.on('data', (c: Buffer) => upChunks.push(c))
          up.on('end', () => {
            const isIngest = url.pathname === '/v1/ingest' && req.method === 'POST'
            if (isIngest && failNext > 0 && body.includes(failMatching)) {
              failNext--
              ingest.push({ body: body.toString(), status: 503, headers: req.headers, at: Date.now() })
              res
                .writeHead(503, { 'retry-after': retryAfter, 'access-control-expose-headers': 'retry-after', 'content-type': 'application/json' })
                .end('{"code":"TEST_LOST_ANSWER"}')
              return
            }
            if (isIngest) ingest.push({ body: body.toString(), status: up.statusCode ?? 0, headers: req.headers, at: Date.now() })
            res.writeHead(up.statusCode ?? 502, up.headers).end(Buffer.concat(upChunks))
          })
        },
      )
      forward.on('error', () => res.writeHead(502).end())
      forward.end(body)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return {
    origin: `http://127.0.0.1:${port}`,
    ingest,
    /** The next n ingest requests whose body contains `matching`. */
    failAfterForwarding: (n: number, matching = '', retryAfterSeconds = 1) => {
      failNext = n
      failMatching = matching
      retryAfter = String(retryAfterSeconds)
    },
    networkDown: (isDown: boolean) => {
      down = isDown
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

/**
 * A page of the app with the one-line tag and the app's code. The tag loads the agent from the
 * page's own origin, or from `collector` (another origin, as most sites paste it).
 */
export const html = (o: { key: string; release: string; env?: string; collector?: string; head?: string; body?: string; tag?: string; attrs?: string }): Page => ({
  body: `<!doctype html><html><head><meta charset="utf-8"><title>app ${o.release}</title>
${o.tag ?? `<script src="${o.collector ?? ''}/vigil.js" data-key="${o.key}" data-release="${o.release}" data-env="${o.env ?? 'test'}" ${o.attrs ?? ''}></script>`}
${o.head ?? ''}</head><body><h1>app ${o.release}</h1>${o.body ?? ''}</body></html>`,
})
