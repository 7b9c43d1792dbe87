import { readJson } from './lib/readJson'
import { now } from './lib/now'
import { uid } from './lib/uid'
import { writeJson } from './lib/writeJson'
import type { KeyValueStore } from './types'

/** A session as kept in storage: id, start, last activity, sampled in or out, status, errors sent. */
type Session = { i: string; t: number; l: number; x: boolean; o: Status; e?: number }
export type Status = 'ok' | 'errored' | 'crashed'

const KEY = 'vigil.s'
const IDLE_MS = 30 * 60000

/**
 * The session survives reloads and ends after 30 minutes without activity. It is sampled in or
 * out once, when it starts. Its status only gets worse: ok → errored (a handled error) →
 * crashed (an unhandled one), so the collector can count crash-free sessions per release.
 */
export const createSession = (store: KeyValueStore, sample: number | undefined, onStart: (s: Session) => void) => {
  let s = readJson<Session>(store, KEY)
  const save = () => writeJson(store, KEY, s)
  /** The current session, started anew when the last one went idle. */
  const touch = (): Session => {
    const t = now()
    if (!s || t - s.l > IDLE_MS) {
      // `>=` is false for undefined and NaN: no sample rate means every session.
      s = { i: uid(), t, l: t, x: !(Math.random() >= (sample as number)), o: 'ok' }
      onStart(s)
    }
    s.l = t
    save()
    return s
  }
  // Only ever worse: ok → errored → crashed.
  // Called right after touch(): `s` is the current session.
  const mark = (o: Status) => {
    if (o == 'crashed' || s!.o == 'ok') s!.o = o
    save()
  }
  return { _touch: touch, _mark: mark }
}
