import type { EventRow } from '../../collector/src/store/index.js'

/** A stored event for seeding the store directly: every column its empty value unless given. */
export const eventRow = (r: Partial<EventRow> & Pick<EventRow, 'release' | 'kind' | 'ts' | 'session'>): EventRow => ({
  project: 'default',
  env: 'production',
  received: r.ts,
  batch: '',
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
  ...r,
})
