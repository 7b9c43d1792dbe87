import {
  BadEncoding,
  BodyTooLarge,
  InvalidBatch,
  InvalidEnvelope,
  InvalidJson,
  MissingKey,
  NoValidEvents,
  OriginNotAllowed,
  RateLimited,
  SpoolFull,
  StoreUnavailable,
  TooDeep,
  toAnswer,
  UnknownKey,
  UnsupportedMediaType,
  type Answer,
} from '../errors.js'
import type { Metrics } from '../metrics.js'

/**
 * `event`: one event refused on its own, named in a 202's `errors` (the rest of its batch is kept).
 * `dropped`: events taken in and then lost, or lost before they came.
 * `batch`: a batch refused whole, answered with this code and its `error`'s status; its events
 * are counted under the same code, unless they were counted already under a reason of their own.
 */
type Entry<Code> = { of: 'event' | 'dropped'; about: string } | { of: 'batch'; about: string; error?: { prototype: { code: Code } } }

// The key of a batch refusal must be the code of its error.
const listed = <T extends { [Code in keyof T]: Entry<Code> }>(list: T) => list

/**
 * Every reason an event or a batch does not reach storage, for HTTP and WebSocket alike. The
 * names are what clients read in answers and operators in /metrics: vigil_events_refused_total
 * {reason} for events, vigil_batches_refused_total{code} for batches.
 */
export const REFUSALS = listed({
  invalid_event: { of: 'event', about: 'not an object, or not what the schema of its type says' },
  unknown_type: { of: 'event', about: 'its "t" names no event type' },
  too_old: { of: 'event', about: 'older than the retention period, its time corrected for the agent\'s clock' },
  too_many_environments: { of: 'event', about: 'a new environment past VIGIL_LIMIT_ENVIRONMENTS' },
  too_many_releases: { of: 'event', about: 'a new release past VIGIL_LIMIT_RELEASES' },
  too_many_flows: { of: 'event', about: 'a new flow name past VIGIL_LIMIT_FLOWS' },
  too_many_endpoints: { of: 'event', about: 'a new request endpoint past VIGIL_LIMIT_ENDPOINTS' },
  too_many_flag_variants: { of: 'event', about: 'a new feature-flag variant (flag and variant) past VIGIL_LIMIT_FLAG_VARIANTS' },
  too_many_flags: { of: 'event', about: 'a flag past the MAX_FLAGS_PER_SESSION (20) one session names in a batch' },
  too_many_tags: { of: 'event', about: 'a new tag (name and value) past VIGIL_LIMIT_TAGS' },
  too_many_error_groups: { of: 'event', about: 'a new error group past VIGIL_LIMIT_ERROR_GROUPS' },
  invalid_item: { of: 'event', about: 'an item of a Sentry envelope or an OTLP request that could not be read (not JSON, not what its type says, a length that lies): the items before it are kept' },
  too_many_items: { of: 'event', about: 'past the 1,000 events one Sentry envelope or OTLP request may bring (MAX_EVENTS_PER_BATCH)' },

  agent_outbox_full: { of: 'dropped', about: 'the agent dropped them before sending, its offline outbox full (the batch\'s "dr")' },
  spool_full: { of: 'dropped', about: 'valid, but the spool is full (VIGIL_SPOOL_MAX_MB): the batch is a 503 VIGIL_SPOOL_FULL' },
  spool_write_failed: { of: 'dropped', about: 'valid, but writing the spool failed: the batch is a 503 VIGIL_STORE_UNAVAILABLE' },

  VIGIL_INVALID_JSON: { of: 'batch', error: InvalidJson, about: 'the body or message is not JSON' },
  VIGIL_BAD_ENCODING: { of: 'batch', error: BadEncoding, about: 'the body is not the Content-Encoding it claims' },
  VIGIL_UNSUPPORTED_MEDIA_TYPE: { of: 'batch', error: UnsupportedMediaType, about: 'a content type or encoding not taken' },
  VIGIL_BODY_TOO_LARGE: { of: 'batch', error: BodyTooLarge, about: 'the body, decoded, is larger than the limit' },
  VIGIL_INVALID_BATCH: { of: 'batch', error: InvalidBatch, about: 'the envelope does not match the wire format' },
  VIGIL_INVALID_ENVELOPE: { of: 'batch', error: InvalidEnvelope, about: 'a Sentry envelope or OTLP request with no item that could be read' },
  VIGIL_TOO_DEEP: { of: 'batch', error: TooDeep, about: 'nested deeper than a batch can be' },
  VIGIL_MISSING_KEY: { of: 'batch', error: MissingKey, about: 'no ingest key' },
  VIGIL_UNKNOWN_KEY: { of: 'batch', error: UnknownKey, about: 'a key of no project' },
  VIGIL_ORIGIN_NOT_ALLOWED: { of: 'batch', error: OriginNotAllowed, about: 'a page origin the project does not allow' },
  VIGIL_RATE_LIMITED: { of: 'batch', error: RateLimited, about: "over the key's rate limit (Retry-After)" },
  VIGIL_NO_VALID_EVENTS: { of: 'batch', error: NoValidEvents, about: 'every event refused on its own (counted under its reason)' },
  VIGIL_SPOOL_FULL: { of: 'batch', error: SpoolFull, about: 'the spool is full (its events: spool_full)' },
  VIGIL_STORE_UNAVAILABLE: { of: 'batch', error: StoreUnavailable, about: 'the spool could not be written (its events: spool_write_failed)' },
  VIGIL_INTERNAL: { of: 'batch', about: 'a fault of the collector (logged), or a request that broke off' },
})

type Refusals = typeof REFUSALS
type Of<Kind> = { [Code in keyof Refusals]: Refusals[Code]['of'] extends Kind ? Code : never }[keyof Refusals]
/** An event refused on its own: the `code` of an entry in a 202's `errors`. */
export type EventRefusal = Of<'event'>
/** Fastify's own codes of a client error that no VIGIL_ code names, answered as they are. */
type FastifyCode = `FST_${string}`
/** The code a batch refused whole is answered and counted with. */
export type BatchRefusal = Of<'batch'> | FastifyCode
/** What events not stored are counted under. */
export type Reason = keyof Refusals | FastifyCode

const isBatchRefusal = (code: string): code is BatchRefusal =>
  code.startsWith('FST_') || (Object.hasOwn(REFUSALS, code) && REFUSALS[code as keyof Refusals].of === 'batch')

/** Counts `n` events not stored, under their reason. */
export const countEvents = (metrics: Metrics, reason: Reason, n = 1) => metrics.eventsRefused.inc({ reason }, n)

/** Marks a refusal whose events the thrower has counted already, each under its own reason. */
export const withEventsCounted = <E extends Error>(err: E): E & { eventsCounted: true } => Object.assign(err, { eventsCounted: true as const })

const eventsCounted = (err: unknown): boolean => (err as { eventsCounted?: unknown } | null | undefined)?.eventsCounted === true

/**
 * The one way a batch is refused, over HTTP and WebSocket alike: the error as the answer (status,
 * code, message, Retry-After), the batch counted by that code, and its events under it too (a
 * body that could not be read counts as one) unless the thrower counted them already.
 */
export const refuse = (metrics: Metrics, err: unknown, body: unknown): Answer => {
  const a = toAnswer(err as Error)
  // Every code the intake throws is listed (test/unit/refusals.test.ts): this fallback is for types.
  const code = isBatchRefusal(a.code) ? a.code : 'VIGIL_INTERNAL'
  metrics.batchesRefused.inc({ code })
  if (!eventsCounted(err)) {
    const ev = (body as { ev?: unknown } | null | undefined)?.ev
    countEvents(metrics, code, Array.isArray(ev) ? ev.length : 1)
  }
  return a
}
