/**
 * `vigil gate`: a deploy pipeline's gate on a release's verdict. It polls the verdict until the
 * release is healthy (exit 0) or bad (exit 1); still watching or unknown at the deadline is exit 2.
 * Exit 3 means no verdict came back at all, so a collector that is down, restarting or
 * overloaded never reads as a bad release (which would roll the deploy back).
 *
 * Connection failures, timeouts, 408, 429, 5xx and answers that are not a verdict are retried
 * (backoff, or the answer's Retry-After) until the deadline: --wait, or 30 s without it. A 401 or
 * 403 (a wrong token) and other 4xx (a wrong --url: the verdict API answers every release, known
 * or not, so a 404 is not "no data") end the gate at once: retrying cannot help. Why it retried
 * or gave up goes to stderr; stdout carries only the verdict.
 */
import type { Verdict } from '../detector/index.js'
import { CliError } from './cliError.js'

export const EXIT = { healthy: 0, bad: 1, undecided: 2, noAnswer: 3 } as const

/** Without --wait, how long the gate keeps trying for its one answer. */
const ANSWER_BUDGET_MS = 30_000
/** The longest one request may take, so a hung collector cannot hold the gate past its deadline. */
const REQUEST_MS = 10_000
/** Waits between failed attempts: doubling from the first to the longest, less up to a quarter (jitter). */
const FIRST_RETRY_MS = 500
const LONGEST_RETRY_MS = 10_000

const VERDICTS = new Set(['healthy', 'watching', 'bad', 'unknown'])

type Attempt = { verdict: Verdict } | { retry: string; afterMs?: number } | { fatal: string }

/** `10m`, `90s`, `1h`, or milliseconds. */
const duration = (v: string): number => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim())
  if (!m) throw new CliError(`not a duration: ${JSON.stringify(v)} (say 30s, 10m, 1h)`, EXIT.noAnswer)
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3600_000 }[(m[2] ?? 'ms') as 'ms']
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Retry-After as seconds or as an HTTP date, in milliseconds from now. */
const retryAfter = (h: string | null): number | undefined => {
  if (!h?.trim()) return undefined
  if (/^\d+$/.test(h.trim())) return Number(h) * 1000
  const at = Date.parse(h)
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now())
}

const isVerdict = (v: unknown): v is Verdict => {
  const x = v as Partial<Verdict> | null
  return typeof x === 'object' && x !== null && VERDICTS.has(x.verdict as string) && typeof x.release === 'string' && typeof x.environment === 'string' && Array.isArray(x.reasons)
}

/** What an answer that is not a verdict says: the API's code and message, or its first words. */
const gist = (res: Response, text: string) => {
  try {
    const e = JSON.parse(text) as { code?: unknown; message?: unknown }
    if (typeof e.message === 'string') return `${res.status} ${typeof e.code === 'string' ? `${e.code} ` : ''}(${e.message})`
  } catch {
    // Not JSON: its first words say more than nothing.
  }
  const start = text.replace(/\s+/g, ' ').trim().slice(0, 80)
  return `${res.status}${start ? ` "${start}"` : ''}`
}

/** Why a request got no answer: Node's network error code (ECONNREFUSED, ECONNRESET…) or the timeout. */
const whyNoAnswer = (err: unknown, timeoutMs: number) => {
  const e = err as Error & { cause?: { code?: unknown; message?: unknown } }
  if (e.name === 'TimeoutError') return `no answer within ${seconds(timeoutMs)}`
  return `cannot reach it (${String(e.cause?.code ?? e.cause?.message ?? e.message)})`
}

/** One request for the verdict, and what to make of its outcome. */
const ask = async (url: string, token: string | undefined, timeoutMs: number): Promise<Attempt> => {
  let res: Response
  let text: string
  try {
    res = await fetch(url, { headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, signal: AbortSignal.timeout(timeoutMs) })
    text = await res.text()
  } catch (err) {
    return { retry: whyNoAnswer(err, timeoutMs) }
  }
  if (res.status === 401 || res.status === 403)
    return { fatal: `${gist(res, text)}: ${token ? "the token given (--token or VIGIL_ADMIN_TOKEN) is not the collector's admin token" : 'the collector needs its admin token (--token or VIGIL_ADMIN_TOKEN)'}` }
  if (res.status === 408 || res.status === 429 || res.status >= 500) return { retry: gist(res, text), afterMs: retryAfter(res.headers.get('retry-after')) }
  if (!res.ok) return { fatal: `${gist(res, text)}: no verdict API there (is --url the collector's address?)` }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return { retry: `answered ${res.status} with ${res.headers.get('content-type') ?? 'no content type'}, not JSON: ${gist(res, text)} (a proxy's page? is --url the collector's address?)` }
  }
  return isVerdict(json) ? { verdict: json } : { retry: `answered ${res.status} with JSON that is not a verdict: ${gist(res, text)}` }
}

export const gate = async (base: string, token: string | undefined, values: Record<string, unknown>, out: (s: string) => void, note: (s: string) => void): Promise<number> => {
  const release = values.release as string | undefined
  if (!release) throw new CliError('gate needs --release', EXIT.noAnswer)
  const q = new URLSearchParams({ env: (values.env as string | undefined) ?? 'production', project: (values.project as string | undefined) ?? 'default' })
  // A flag's rollout: --flag new-auth=on asks for the variant's verdict against the flag's others.
  const flag = values.flag as string | undefined
  if (flag !== undefined) {
    const eq = flag.indexOf('=')
    if (eq < 1) throw new CliError(`--flag takes a flag and its variant, as new-auth=on; got ${JSON.stringify(flag)}`, EXIT.noAnswer)
    q.set('flag', flag.slice(0, eq))
    q.set('variant', flag.slice(eq + 1))
  }
  const url = `${base.replace(/\/+$/, '')}/v1/releases/${encodeURIComponent(release)}/verdict?${q}`
  if (!URL.canParse(url)) throw new CliError(`not a URL: ${JSON.stringify(base)} (--url, VIGIL_URL)`, EXIT.noAnswer)
  const started = Date.now()
  const wait = duration((values.wait as string | undefined) ?? '0s')
  const every = duration((values.interval as string | undefined) ?? '10s')
  const deadline = started + wait
  const giveUpAt = started + (wait || ANSWER_BUDGET_MS)

  const report = (v: Verdict) => {
    if (values.json) out(JSON.stringify(v, null, 2))
    else out([`${v.release}${v.flag === undefined ? '' : ` with ${v.flag}=${v.variant}`} (${v.environment}): ${v.verdict}`, ...v.reasons.map((r) => `  - ${r}`)].join('\n'))
    return v.verdict === 'healthy' ? EXIT.healthy : v.verdict === 'bad' ? EXIT.bad : EXIT.undecided
  }

  let last: Verdict | undefined
  let failures = 0
  for (;;) {
    const a = await ask(url, token, Math.min(REQUEST_MS, Math.max(giveUpAt - Date.now(), 1000)))
    if ('fatal' in a) {
      note(`vigil gate: the collector at ${base} answered ${a.fatal}; giving up (exit ${EXIT.noAnswer})`)
      return EXIT.noAnswer
    }
    if ('verdict' in a) {
      const v = (last = a.verdict)
      failures = 0
      if (v.verdict === 'healthy' || v.verdict === 'bad' || Date.now() + every > deadline) return report(v)
      note(`vigil gate: ${v.release} (${v.environment}) is ${v.verdict}; asking again in ${seconds(every)}`)
      await sleep(every)
      continue
    }
    const left = giveUpAt - Date.now()
    if (left <= 0) {
      if (last) {
        note(`vigil gate: the collector at ${base}: ${a.retry}; the deadline has passed, so its last answer stands`)
        return report(last)
      }
      note(`vigil gate: no verdict from the collector at ${base} within ${seconds(giveUpAt - started)} (last: ${a.retry}); giving up (exit ${EXIT.noAnswer})`)
      return EXIT.noAnswer
    }
    failures++
    const backoff = Math.min(LONGEST_RETRY_MS, FIRST_RETRY_MS * 2 ** (failures - 1)) * (1 - Math.random() / 4)
    const delay = Math.min(left, a.afterMs ?? backoff)
    note(`vigil gate: the collector at ${base}: ${a.retry}; retrying in ${seconds(delay)}${a.afterMs === undefined ? '' : ' (its Retry-After)'}, ${seconds(left)} left`)
    await sleep(delay)
  }
}
