import UAParser from 'ua-parser-js'
import { memo } from '../lib/memo.js'

export type Client = { browser: string; os: string; device: string }

/**
 * Browser, OS and device class from a user agent (ua-parser-js). A collector sees the same few
 * hundred user agents over and over, so answers are remembered.
 */
export const parseUserAgent = memo((ua: string): Client => {
  const r = new UAParser(ua).getResult()
  const major = r.browser.version?.split('.')[0]
  const client: Client = {
    browser: r.browser.name ? `${r.browser.name}${major ? ` ${major}` : ''}` : '',
    os: r.os.name ? `${r.os.name}${r.os.version ? ` ${r.os.version.split('.').slice(0, 2).join('.')}` : ''}` : '',
    // ua-parser-js names mobile, tablet, smarttv, console, wearable, embedded; none means a desktop browser.
    device: r.device.type ?? (r.browser.name ? 'desktop' : ''),
  }
  return client
}, 2000)

const SEGMENT: [RegExp, string][] = [
  [/^\d+$/, ':id'],
  [/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, ':uuid'],
  [/^[0-9a-f]{12,}$/i, ':hash'],
  [/^[^@/]+@[^@/]+$/, ':email'],
  // Long mixed letters and digits: tokens, slugs with ids, base64 ids.
  [/^(?=.*\d)(?=.*[a-z])[\w-]{16,}$/i, ':token'],
]

/** The page's path as a route: ids, uuids, hashes, emails and tokens become placeholders. */
export const routeOf = memo((url: string): string => {
  if (!url) return ''
  let path: string
  try {
    path = new URL(url).pathname
  } catch {
    path = url.split(/[?#]/)[0] ?? ''
  }
  return path
    .split('/')
    .map((seg) => {
      let s = seg
      try {
        s = decodeURIComponent(seg)
      } catch {
        // Not percent-encoded properly: keep it as it is.
      }
      for (const [re, by] of SEGMENT) if (re.test(s)) return by
      return seg
    })
    .join('/')
    .slice(0, 300)
})

/** The longest route an endpoint keeps (after its method). */
const LIMIT_ENDPOINT = 180

/**
 * An endpoint as requests name it: the method in capitals, then the URL's path as a route (its
 * origin kept when the agent gave one: a call to another origin), `GET /api/plans/:id`.
 */
export const endpointOf = memo((n: string): string => {
  const space = n.indexOf(' ')
  const method = n.slice(0, space).toUpperCase()
  const url = n.slice(space + 1).trim()
  let origin = ''
  if (/^https?:\/\//i.test(url))
    try {
      origin = new URL(url).origin
    } catch {
      // Not a URL after all: a path.
    }
  return `${method} ${(origin + routeOf(url)).slice(0, LIMIT_ENDPOINT)}`
}, 2000)
