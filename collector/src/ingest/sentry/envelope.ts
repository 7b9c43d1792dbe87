/**
 * Sentry's envelope format (https://develop.sentry.dev/sdk/data-model/envelopes/), read from the
 * bytes of a request body: a JSON header line, then items, each a JSON header line (`type`, and
 * `length` in bytes when the payload may hold newlines or binary) and its payload.
 *
 * A hostile body is bounded by the route's body limit; here a length that lies (past the end of
 * the body, not an integer) or a header that is not a JSON object ends the reading: the items
 * before it are kept, and it and what follows count as one broken item.
 */

/** The most items one envelope may hold; past it, the rest is not read (counted as one broken item). */
export const MAX_ITEMS = 100

export type EnvelopeItem = { type: string; header: Record<string, unknown>; payload: Buffer }
export type ParsedEnvelope = {
  header: Record<string, unknown>
  items: EnvelopeItem[]
  /** Why reading stopped before the end, if it did. */
  broken?: string
}

const NL = 0x0a

const objectOf = (bytes: Buffer): Record<string, unknown> | undefined => {
  try {
    const v: unknown = JSON.parse(bytes.toString('utf8'))
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/** The line from `at` to the next newline (not included), and where the next line starts. */
const lineAt = (body: Buffer, at: number): [Buffer, number] => {
  const end = body.indexOf(NL, at)
  return end === -1 ? [body.subarray(at), body.length] : [body.subarray(at, end), end + 1]
}

/** The envelope in `body`, or undefined when its first line is not a JSON object (nothing can be read). */
export const parseEnvelope = (body: Buffer): ParsedEnvelope | undefined => {
  const [first, start] = lineAt(body, 0)
  const header = objectOf(first)
  if (!header) return undefined
  const items: EnvelopeItem[] = []
  let at = start
  while (at < body.length) {
    const [line, next] = lineAt(body, at)
    if (line.length === 0 || (line.length === 1 && line[0] === 0x0d)) {
      at = next // a blank line between items, or the envelope's last newline
      continue
    }
    if (items.length >= MAX_ITEMS) return { header, items, broken: `more than ${MAX_ITEMS} items` }
    const h = objectOf(line)
    if (!h || typeof h.type !== 'string') return { header, items, broken: `item ${items.length}: its header is not a JSON object with a "type"` }
    const length = h.length
    if (length === undefined || length === null) {
      const [payload, after] = lineAt(body, next)
      items.push({ type: h.type, header: h, payload })
      at = after
      continue
    }
    if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) return { header, items, broken: `item ${items.length}: its length is not a byte count` }
    if (next + length > body.length) return { header, items, broken: `item ${items.length}: its length (${length}) runs past the end of the envelope` }
    items.push({ type: h.type, header: h, payload: body.subarray(next, next + length) })
    at = next + length
    // The payload's newline is optional; anything else right after it is the next item's header.
    if (body[at] === NL) at += 1
  }
  return { header, items }
}
