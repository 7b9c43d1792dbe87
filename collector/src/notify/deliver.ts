import type { Metrics } from '../metrics.js'
import type { AlertMessage, Notifier } from './types.js'

export type DeliveryOptions = { attempts: number; baseDelayMs: number; maxDelayMs: number }

export const defaultDelivery: DeliveryOptions = { attempts: 6, baseDelayMs: 1000, maxDelayMs: 60_000 }

/** Waits `ms`, or less when the signal aborts. */
const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms)
    function done() {
      clearTimeout(t)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done)
  })

/**
 * Sends a message through every notifier, retrying each with exponential backoff and full
 * jitter. Resolves true when every notifier delivered it.
 */
export const deliver = async (
  notifiers: Notifier[],
  msg: AlertMessage,
  metrics: Metrics,
  log: (msg: string, err?: unknown) => void,
  opts: DeliveryOptions = defaultDelivery,
  signal: AbortSignal = new AbortController().signal,
): Promise<boolean> => {
  const results = await Promise.all(
    notifiers.map(async (n) => {
      for (let attempt = 1; attempt <= opts.attempts && !signal.aborted; attempt++) {
        try {
          await n.send(msg)
          metrics.alertsSent.inc({ notifier: n.name, result: 'delivered' })
          return true
        } catch (err) {
          metrics.alertsSent.inc({ notifier: n.name, result: 'failed' })
          log(`alert ${msg.id} via ${n.name}: attempt ${attempt} failed`, err)
          if (attempt < opts.attempts) await sleep(Math.random() * Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** attempt), signal)
        }
      }
      return false
    }),
  )
  return results.every(Boolean)
}
