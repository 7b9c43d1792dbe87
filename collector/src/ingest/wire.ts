/**
 * The wire format, as JSON schemas (documented in agent/README.md). The route validates only the
 * envelope; each event is validated on its own so one bad event does not cost the whole batch.
 * Unknown fields are ignored so newer agents can talk to older collectors.
 */

export const MAX_EVENTS_PER_BATCH = 1000

/** A request body (decoded) or WebSocket message is refused past this many bytes. */
export const MAX_BODY_BYTES = 1024 * 1024

export const envelopeSchema = {
  type: 'object',
  required: ['ev'],
  properties: {
    k: { type: 'string', maxLength: 200 },
    // Ids beginning `sentry:` or `otlp:` are those intake gives other clients' batches (store/rollupViews.ts CLIENT).
    id: { type: 'string', minLength: 1, maxLength: 100, not: { pattern: '^(sentry|otlp):' } },
    at: { type: 'number' },
    r: { type: 'string' },
    e: { type: 'string' },
    s: { type: 'string' },
    // Items are checked one by one later: a bad item must not cost the good ones.
    ev: { type: 'array', minItems: 1, maxItems: MAX_EVENTS_PER_BATCH },
  },
} as const

export type Envelope = {
  k?: string
  id?: string
  at?: number
  r?: string
  e?: string
  s?: string
  /** Events the client dropped before this batch (its outbox was full). */
  dr?: number
  ev: unknown[]
}

// Numbers are finite and in range: JSON's 1e309 parses as Infinity, which no column can hold (and
// Infinity − Infinity is NaN, which passes every comparison). Epoch milliseconds up to the year
// 2286; durations up to a year; vitals up to a day (CLS is a small number).
const EPOCH_MS = { type: 'number', minimum: 0, maximum: 9_999_999_999_999 } as const
export const MAX_DURATION_MS = 366 * 24 * 3600_000
export const MAX_VITAL = 24 * 3600_000

const common = {
  ts: EPOCH_MS,
  r: { type: 'string' },
  e: { type: 'string' },
  s: { type: 'string' },
  u: { type: 'string' },
} as const

export const FLOW_OUTCOMES = ['ok', 'fail', 'timeout', 'abandoned'] as const
export const SESSION_STATUSES = ['start', 'ok', 'errored', 'crashed'] as const
export const VITALS = ['LCP', 'INP', 'CLS', 'FCP', 'TTFB'] as const
export const REQUEST_OUTCOMES = ['ok', 'fail', 'timeout'] as const
/** The most calls one `request` event may stand for. */
export const MAX_CALLS = 100_000

/** A name and a value: a flag's variant, a tag. */
const pairSchema = {
  type: 'object',
  required: ['t', 'ts', 'n', 'v'],
  properties: { ...common, n: { type: 'string', minLength: 1 }, v: { type: 'string' } },
} as const

/** One schema per event type `t`. */
export const eventSchemas = {
  error: {
    type: 'object',
    required: ['t', 'ts'],
    properties: {
      ...common,
      ty: { type: 'string' },
      m: { type: 'string' },
      st: { type: 'string' },
      h: { type: 'boolean' },
    },
  },
  flow: {
    type: 'object',
    required: ['t', 'ts', 'n', 'o'],
    properties: {
      ...common,
      n: { type: 'string', minLength: 1 },
      o: { enum: FLOW_OUTCOMES },
      d: { type: 'number', minimum: 0, maximum: MAX_DURATION_MS },
      re: { type: 'string' },
      sp: { type: 'string' },
    },
  },
  session: {
    type: 'object',
    required: ['t', 'ts', 'o'],
    properties: { ...common, o: { enum: SESSION_STATUSES }, d: { type: 'number', minimum: 0, maximum: MAX_DURATION_MS } },
  },
  vital: {
    type: 'object',
    required: ['t', 'ts', 'n', 'v'],
    properties: { ...common, n: { enum: VITALS }, v: { type: 'number', minimum: 0, maximum: MAX_VITAL } },
  },
  // An endpoint's calls: `ok` events count the calls that went well (`c`), a failed one is one
  // call, with its status (`sc`, 0 when no answer came: network, CORS) and duration.
  request: {
    type: 'object',
    required: ['t', 'ts', 'n', 'o'],
    properties: {
      ...common,
      // `GET /api/plans/:id`: the method, then the URL's path (with its origin when not the page's).
      // Only a path or an http(s) URL (a data: URL is content, not an endpoint), at most 2,000 characters.
      n: { type: 'string', maxLength: 2000, pattern: '^[A-Za-z]{1,16} (/|https?://)' },
      o: { enum: REQUEST_OUTCOMES },
      c: { type: 'integer', minimum: 1, maximum: MAX_CALLS },
      sc: { type: 'integer', minimum: 0, maximum: 999 },
      d: { type: 'number', minimum: 0, maximum: MAX_DURATION_MS },
    },
  },
  // The session's variant of a feature flag (`new-auth` = `on`), and its tags (`tenant` = `acme`).
  flag: pairSchema,
  tag: pairSchema,
} as const

export type EventType = keyof typeof eventSchemas

