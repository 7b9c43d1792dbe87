import { createBatcher } from './createBatcher'
import { createTransport } from './createTransport'
import { pageUrl } from './lib/pageUrl'
import { safe } from './lib/safe'
import { sessionId } from './lib/sessionId'
import { onUncaught } from './onUncaught'
import type { Options, WireEvent } from './types'

/** Wires configuration, batching, transport and the page's error events together. */
export const createAgent = (o: Options) => {
  const endpoint = (o.endpoint || '').replace(/\/+$/, '')
  const batcher = createBatcher(
    { k: o.key, r: o.release || '', e: o.env || 'production', s: sessionId() },
    createTransport(endpoint + '/v1/ingest'),
  )
  const push = safe((ev: WireEvent) => {
    ev.u = ev.u || pageUrl()
    batcher.push(ev)
  })
  onUncaught(push)
  if (typeof addEventListener === 'function') {
    const away = safe(() => batcher.flush(true))
    addEventListener('pagehide', away)
    addEventListener('visibilitychange', () => document.visibilityState === 'hidden' && away())
  }
  return { push, flush: safe(() => batcher.flush()) }
}
export type Agent = ReturnType<typeof createAgent>
