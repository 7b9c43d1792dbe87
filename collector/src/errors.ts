import createError from '@fastify/error'

/**
 * Every refusal the API makes, by name. The status and the `code` are part of the API: clients
 * and operators key on them. Bodies look like `{ statusCode, code, error, message }`.
 */
export const InvalidJson = createError('VIGIL_INVALID_JSON', 'Body is not valid JSON: %s', 400)
export const InvalidBatch = createError('VIGIL_INVALID_BATCH', 'Batch does not match the wire format: %s', 400)
export const NoValidEvents = createError('VIGIL_NO_VALID_EVENTS', 'No event in the batch is valid: %s', 400)
export const MissingKey = createError('VIGIL_MISSING_KEY', 'No ingest key: send it as "k" in the batch or the x-vigil-key header', 401)
export const UnknownKey = createError('VIGIL_UNKNOWN_KEY', 'Unknown ingest key', 403)
export const NotFound = createError('VIGIL_NOT_FOUND', '%s', 404)
export const BodyTooLarge = createError('VIGIL_BODY_TOO_LARGE', 'Body is larger than %s bytes', 413)
export const UnsupportedMediaType = createError('VIGIL_UNSUPPORTED_MEDIA_TYPE', 'Send application/json or text/plain, not %s', 415)
export const StoreUnavailable = createError('VIGIL_STORE_UNAVAILABLE', 'Storage is unavailable, retry later', 503)
export const AgentNotBuilt = createError('VIGIL_AGENT_NOT_BUILT', 'The agent is not built: run `npm run build`', 503)
