import { createAgent, type Agent } from './createAgent'
import { createFlow } from './createFlow'
import { errorEvent } from './errorEvent'
import { safe } from './lib/safe'
import type { FlowHandle, FlowOptions, Options, WireEvent } from './types'

export type { FlowHandle, FlowOptions, Options } from './types'

let agent: Agent | undefined
// Events made before init() are kept (a few) and sent once it is called.
const early: WireEvent[] = []

const emit = (ev: WireEvent) => {
  if (agent) agent.push(ev)
  else if (early.length < 100) early.push(ev)
}

/** Starts the agent; later calls are ignored. */
export const init = safe((options: Options): void => {
  if (agent || !options || !options.key) return
  agent = createAgent(options)
  early.splice(0).forEach(agent.push)
})

/** Starts a named flow; end it with `ok()` or `fail(reason)`. */
export const flow = (name: string, options?: FlowOptions): FlowHandle =>
  safe(createFlow)(emit, name, options) || { ok() {}, fail() {}, step() {} }

/** Reports an error the app caught and handled. */
export const captureError = safe((error: unknown): void => emit(errorEvent(error, true)))

/** Sends what is waiting now. */
export const flush = safe((): void => agent && agent.flush())
