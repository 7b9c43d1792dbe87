import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export type PageOptions = { collector: string; key: string; release: string; env?: string; head?: string; body?: string }

/** A plain HTML page that loads the agent by script tag from the collector, as users paste it. */
export const appPage = (o: PageOptions): string => `<!doctype html>
<html><head><meta charset="utf-8"><title>app ${o.release}</title>
<script src="${o.collector}/vigil.js" data-key="${o.key}" data-release="${o.release}" data-env="${o.env ?? 'production'}"></script>
${o.head ?? ''}
</head><body><h1>app ${o.release}</h1>${o.body ?? ''}</body></html>`

/**
 * Serves pages from another origin than the collector's, as a real app would be. `pages` maps
 * a path to its HTML (a function gets the query string).
 */
export const startPageServer = async (pages: Record<string, string | ((q: URLSearchParams) => string)>) => {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const page = pages[url.pathname]
    if (page === undefined) return void res.writeHead(404).end()
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(typeof page === 'function' ? page(url.searchParams) : page)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return { origin: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) }
}
