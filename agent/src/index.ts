import { createAgent, type Agent } from './createAgent'
import { createFlows, type Flows } from './createFlows'
import { errorEvent } from './errorEvent'
import { now } from './lib/now'
import { on } from './lib/on'
import { safe } from './lib/safe'
import { webStore } from './lib/webStore'
import type { FlowHandle, FlowOptions, Options, WireEvent } from './types'

export type { FlowHandle, FlowOptions, KeyValueStore, Options, Transport, WireEvent } from './types'

let agent: Agent | undefined
let flows: Flows | undefined
// Events made before init() are kept (a few) and sent once it is called.
const early: WireEvent[] = []

const emit = (ev: WireEvent) => {
  if (agent) agent._push(ev)
  else if (early.length < 100) early.push(ev)
}

const where = () => (agent ? agent._where() : {})

/** The flow registry, made on first use: a flow may start before init(). */
const registry = (o?: Options): Flows =>
  flows || (flows = createFlows((o && o.storage) || webStore('sessionStorage'), emit, where))

/** Starts the agent; later calls are ignored. */
export const init = safe((o: Options): void => {
  if (agent || !o || !o.key) return
  const f = registry(o)
  // Before the agent's own listener: open flows are settled before the last batch goes.
  on('pagehide', f._abandon)
  agent = createAgent(o)
  early.splice(0).forEach(agent._push)
})

/** Starts a named flow (login, download, offline-playback, …); end it with `ok()` or `fail(reason)`. */
export const flow = (name: string, opts?: FlowOptions): FlowHandle =>
  safe(() => registry()._start(name, opts))() || { ok() {}, fail() {}, step() {} }

/** A flow that ends with the promise: ok when it resolves, failed with its reason when it rejects. */
export const track = <T>(name: string, promise: PromiseLike<T>, opts?: FlowOptions): PromiseLike<T> => {
  const f = flow(name, opts)
  // Promise.resolve never throws: a hostile thenable becomes a rejection, i.e. a failed flow.
  Promise.resolve(promise).then(f.ok, f.fail)
  return promise
}

/**
 * Reports an error the app caught: handled, or `fatal` — the app could not go on (it shows a
 * fallback screen) — which counts as crashing the session, as an uncaught error does.
 */
export const captureError = safe((error: unknown, fatal?: boolean): void => emit(errorEvent(error, fatal !== true)))

/** An event of a name and a value: a vital, a flag, a tag. */
const named =
  <V>(t: WireEvent['t']) =>
  (name: string, value: V): void =>
    emit({ t, ts: now(), n: name, v: value })

/** Reports a web vital (`vitals.js` calls this; so can you, with the `web-vitals` package). */
export const vital = named<number>('vital')

/**
 * Puts the session in a feature flag's cohort, `flag('new-auth', 'on')`: the collector judges each
 * variant against the flag's other variants in the same release. Call it where the app reads the
 * flag, on every page (a session's last variant of a flag counts).
 */
export const flag = named<string>('flag')

/** Labels the session for "who is affected", `tag('tenant', 'acme')`: a few low-cardinality tags. */
export const tag = named<string>('tag')

/** Sends what is waiting now. */
export const flush = (): void => agent && agent._flush()
