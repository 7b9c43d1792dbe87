import type { Transport } from './types'

/**
 * The browser transport. The body goes as `text/plain`: a simple request, no CORS preflight.
 * While the page is going away `sendBeacon` is used (the browser delivers after the page is
 * gone); otherwise `fetch` with keepalive, which may outlive the page within the browsers'
 * 64 KiB budget. A failure rejects; the outbox takes it as status 0 and retries, logging nothing.
 */
export const createTransport = (url: string): Transport => async (body, unloading) => {
  if (unloading && navigator.sendBeacon && navigator.sendBeacon(url, body)) return [202]
  const r = await fetch(url, { method: 'POST', body, keepalive: body.length < 60000 })
  return [r.status, +(r.headers.get('retry-after') as string)]
}
