/**
 * Sends a body to the collector and resolves with the HTTP status, 0 when the network failed.
 * The body goes as `text/plain`: a simple request, no CORS preflight. While the page is being
 * hidden or unloaded, `sendBeacon` is used (the browser delivers it after the page is gone).
 */
export type Send = (body: string, unloading?: boolean) => Promise<number>

export const createTransport = (url: string): Send => (body, unloading) => {
  if (unloading && typeof navigator !== 'undefined' && navigator.sendBeacon) {
    try {
      if (navigator.sendBeacon(url, body)) return Promise.resolve(202)
    } catch {
      // fall through to fetch
    }
  }
  try {
    // keepalive lets the request outlive the page, within the browsers' 64 KiB budget.
    return fetch(url, { method: 'POST', body, keepalive: body.length < 60000, credentials: 'omit' }).then(
      (r) => r.status,
      () => 0,
    )
  } catch {
    return Promise.resolve(0)
  }
}
