import { g } from './lib/global'
import type { Transport } from './types'

/**
 * The browser transport: `fetch` with `keepalive`, which outlives the page within the browsers'
 * 64 KiB budget. Not `sendBeacon`: a beacon has no answer, so a batch handed to one while the
 * network was down would be lost; a keepalive request that gets no answer leaves its batch in
 * the outbox. The body goes as `text/plain`: a simple request, no CORS preflight. A failure
 * rejects; the outbox takes it as status 0 and retries, logging nothing.
 */
export const createTransport = (url: string): Transport => {
  // The fetch of now, before the agent wraps it (onRequests): its own sends are not the app's requests.
  const f = g.fetch
  return async (body) => {
    const r = await f(url, { method: 'POST', body, keepalive: body.length < 60000 })
    return [r.status, +(r.headers.get('retry-after') as string)]
  }
}
