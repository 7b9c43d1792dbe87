import { readJson } from './lib/readJson'
import { now } from './lib/now'
import { safe } from './lib/safe'
import { text } from './lib/text'
import { uid } from './lib/uid'
import { writeJson } from './lib/writeJson'
import type { Emit, FlowHandle, FlowOptions, KeyValueStore } from './types'

/**
 * An open flow: name, start, last step, where it ran, and `x` to end it (a function: JSON leaves
 * it out when the flow is stored).
 */
type Open = { n: string; t: number; sp?: string; r?: string; e?: string; s?: string; x?: (o: string) => void }

const KEY = 'vigil.f'

/**
 * The open flows of this tab, kept in storage so that a flow interrupted by a reload, a crash
 * or the tab being killed in the background is not lost: the next page settles it as
 * `abandoned`, with its last step, at the time it was last heard of (its start or last step). A flow open when the page goes away is sent as `abandoned`
 * at once. `where` says the release, environment and session a flow starts in.
 */
export const createFlows = (store: KeyValueStore, emit: Emit, where: () => { r?: string; e?: string; s?: string }) => {
  const open: Record<string, Open> = {}
  const save = () => writeJson(store, KEY, { l: now(), f: open })
  const left = readJson<{ l: number; f: Record<string, Open> }>(store, KEY)
  if (left)
    for (const id in left.f) {
      const f = left.f[id]!
      // Its name, last step, release, environment and session as stored; `t` becomes the type.
      emit({ ...f, t: 'flow', ts: left.l, o: 'abandoned', d: left.l - f.t })
    }
  save()

  const start = (name: string, opts: FlowOptions = {}): FlowHandle => {
    const id = uid()
    // Never throws into the app, even for a hostile reason (a throwing toString, say).
    const end = safe((o: string, reason?: unknown) => {
      const f = open[id]
      if (!f) return
      delete open[id]
      save()
      clearTimeout(timer)
      emit({ t: 'flow', ts: now(), n: f.n, o, d: now() - f.t, re: reason == null ? reason : text(reason), sp: f.sp })
    })
    open[id] = { n: text(name), t: now(), ...where(), x: end }
    save()
    const timer = opts.timeoutMs ? setTimeout(() => end('timeout'), opts.timeoutMs) : undefined
    return {
      ok: () => end('ok'),
      fail: (reason) => end('fail', reason),
      step: safe((s: string) => {
        if (open[id]) (open[id].sp = text(s)), save()
      }),
    }
  }

  /** The page is going away: every open flow is abandoned. */
  const abandon = () => {
    for (const id in open) open[id]!.x!('abandoned')
  }

  return { _start: start, _abandon: abandon }
}
export type Flows = ReturnType<typeof createFlows>
