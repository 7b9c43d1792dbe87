import type { EventRow } from '../store/types.js'

/**
 * A stored row with the columns every event has, and every other column its empty value ('' or
 * 0). Positional and a plain object literal: normalise makes one per accepted event.
 */
export const blankRow = (
  project: string,
  env: string,
  release: string,
  kind: EventRow['kind'],
  ts: number,
  received: number,
  session: string,
  batch: string,
): EventRow => ({
  project,
  env,
  release,
  kind,
  ts,
  received,
  session,
  batch,
  name: '',
  outcome: '',
  value: 0,
  reason: '',
  step: '',
  message: '',
  stack: '',
  handled: 0,
  fingerprint: '',
  url: '',
  route: '',
  user_agent: '',
  browser: '',
  os: '',
  device: '',
  net: '',
})
