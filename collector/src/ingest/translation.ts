/**
 * What the translations of other clients' items into our wire format share (sentry/items.ts,
 * otlp/translate.ts): reading untrusted JSON without trusting its shapes, the project's flow
 * names, and a bounded collector of the events one request becomes.
 */
import { MAX_EVENTS_PER_BATCH } from './wire.js'

export type Obj = Record<string, unknown>
/** An event of our wire format, before `normalise` checks it. */
export type WireEvent = Obj

export const obj = (v: unknown): Obj | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined)
export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])
export const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)

/** The flow the project names the first of `names` (a transaction's or span's name, then its op) after. */
export const flowNamed = (flows: Record<string, string>, ...names: (string | undefined)[]): string | undefined => {
  for (const n of names) if (n !== undefined && Object.hasOwn(flows, n)) return flows[n]
  return undefined
}

/**
 * The events one request becomes, at most MAX_EVENTS_PER_BATCH (past it, `cut` counts them), and
 * the items that became nothing of ours (`ignored`, by type). `add` says whether there was an event.
 */
export const createSink = () => {
  const sink = {
    events: [] as WireEvent[],
    ignored: new Map<string, number>(),
    cut: 0,
    room: () => MAX_EVENTS_PER_BATCH - sink.events.length,
    add: (e: WireEvent | undefined): boolean => {
      if (!e) return false
      if (sink.room() > 0) sink.events.push(e)
      else sink.cut += 1
      return true
    },
    ignore: (type: string, n = 1) => void sink.ignored.set(type, (sink.ignored.get(type) ?? 0) + n),
  }
  return sink
}
export type Sink = ReturnType<typeof createSink>
