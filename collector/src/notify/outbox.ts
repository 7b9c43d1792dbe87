import { createLoop } from '../lib/loop.js'
import type { Metrics } from '../metrics.js'
import type { AlertStore, Delivery } from '../store/index.js'
import type { AlertMessage, Notifier } from './types.js'

export type OutboxOptions = {
  attempts: number
  baseDelayMs: number
  maxDelayMs: number
  pollMs: number
  /** One attempt's bound: a receiver that has not answered by then has failed that attempt. */
  attemptTimeoutMs: number
}
export const defaultOutbox: OutboxOptions = { attempts: 8, baseDelayMs: 2000, maxDelayMs: 5 * 60_000, pollMs: 1000, attemptTimeoutMs: 10_000 }

/**
 * The notifiers' outbox, kept in ClickHouse. A message is written for each notifier before any is
 * sent. Then each notifier has a lane of its own: it sends its deliveries one at a time, each
 * attempt bounded by a timeout, retried with exponential backoff and full jitter, given up after
 * a bound, every attempt recorded; a receiver that hangs or refuses holds back only its own lane.
 * An alert's messages reach a receiver in order (a resolve never overtakes its firing).
 *
 * Delivery is at least once, with a stable id: an attempt whose outcome was not recorded (the
 * process died or stopped during it) is sent again on the next start, under the same message id;
 * a delivery recorded as delivered is never sent again.
 */
export type OutboxDeps = {
  store: AlertStore
  notifiers: Notifier[]
  metrics: Metrics
  log: { warn: (o: unknown, m: string) => void }
  /** Told after every attempt is recorded (the live feed). */
  onAttempt?: (d: Delivery) => void
}

/** `p`, or a rejection as soon as `signal` aborts: a notifier that ignores its signal still cannot hold its lane. */
const until = <T>(p: Promise<T>, signal: AbortSignal) =>
  new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason as Error)
    if (signal.aborted) return abort()
    signal.addEventListener('abort', abort, { once: true })
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort))
  })

/** What the outbox's parts share: its deps and options, its stop signal, and how an attempt's outcome is recorded. */
type Ctx = { deps: OutboxDeps; opts: OutboxOptions; stopping: AbortSignal; record: (d: Delivery) => Promise<void> }

/** One attempt at one delivery, its outcome recorded: delivered, pending again after a backoff, or failed for good. */
const attempt = async ({ deps, opts, stopping, record }: Ctx, n: Notifier, d: Delivery) => {
  const timeout = AbortSignal.timeout(opts.attemptTimeoutMs)
  const signal = AbortSignal.any([stopping, timeout])
  try {
    await until(n.send(JSON.parse(d.message) as AlertMessage, signal), signal)
  } catch (err) {
    // Stopped mid-attempt: whether it arrived is unknown, so it stays pending (the next start sends it again, same id).
    if (stopping.aborted) return
    deps.metrics.alertsSent.inc({ notifier: n.name, result: 'failed' })
    const attempts = d.attempts + 1
    const giveUp = attempts >= opts.attempts
    const why = timeout.aborted ? `no answer within ${opts.attemptTimeoutMs} ms` : String((err as Error).message ?? err)
    if (giveUp) deps.log.warn({ err }, `alert delivery ${d.id} gave up after ${attempts} attempts`)
    const now = Date.now()
    await record({
      ...d,
      status: giveUp ? 'failed' : 'pending',
      attempts,
      next_at: now + Math.random() * Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** attempts),
      last_error: why.slice(0, 500),
      updated: now,
    })
    return
  }
  deps.metrics.alertsSent.inc({ notifier: n.name, result: 'delivered' })
  // Should this write fail, the delivery stays pending and goes again: at least once.
  await record({ ...d, status: 'delivered', attempts: d.attempts + 1, last_error: '', updated: Date.now() })
}

/** One notifier's deliveries, one at a time, independent of every other notifier's. */
const laneOf = (ctx: Ctx, n: Notifier) =>
  createLoop({
    everyMs: ctx.opts.pollMs,
    run: async () => {
      const { store } = ctx.deps
      for (let due = await store.dueDeliveries(n.name, Date.now()); due.length; due = await store.dueDeliveries(n.name, Date.now())) {
        for (const d of due) {
          if (ctx.stopping.aborted) return
          await attempt(ctx, n, d)
        }
      }
    },
    onError: (err) => ctx.deps.log.warn({ err }, `alert outbox (${n.name}): could not read or record deliveries`),
  })

/** Deliveries to a notifier no longer configured fail, with the reason; tried until it works once. */
const sweeperOf = ({ deps, opts, record }: Ctx) =>
  createLoop({
    everyMs: opts.pollMs,
    run: async () => {
      for (const d of await deps.store.strandedDeliveries(deps.notifiers.map((n) => n.name))) {
        await record({ ...d, status: 'failed', last_error: `no notifier ${d.notifier} configured`, updated: Date.now() })
      }
      return Infinity
    },
    onError: (err) => deps.log.warn({ err }, 'alert outbox: could not read or record deliveries'),
  })

export const createOutbox = (deps: OutboxDeps, options: Partial<OutboxOptions> = {}) => {
  const opts = { ...defaultOutbox, ...options }
  const stopping = new AbortController()

  const record = async (d: Delivery) => {
    await deps.store.saveDelivery(d)
    try {
      deps.onAttempt?.(d)
    } catch {
      // A listener's failure must not turn a delivered message into one to send again.
    }
  }
  const ctx: Ctx = { deps, opts, stopping: stopping.signal, record }
  const lanes = deps.notifiers.map((n) => laneOf(ctx, n))
  const sweep = sweeperOf(ctx)

  /**
   * Writes the message's delivery for each notifier, skipping those already written (a restart
   * writes nothing twice). Its lanes find it at their next poll, or at `wake`: the detector wakes
   * them once its look has published the verdicts, so a pipeline paged by an alert reads the
   * verdict of the look that fired it, not the one before.
   */
  const enqueue = async (msg: AlertMessage, alert: string, project: string) => {
    const now = Date.now()
    const have = new Set((await deps.store.deliveries(project, alert)).map((d) => d.id))
    for (const n of deps.notifiers) {
      if (have.has(`${msg.id}:${n.name}`)) continue
      await deps.store.saveDelivery({
        id: `${msg.id}:${n.name}`,
        alert,
        project,
        notifier: n.name,
        type: msg.type,
        message: JSON.stringify(msg),
        status: 'pending',
        attempts: 0,
        next_at: now,
        last_error: '',
        created: now,
        updated: now,
      })
    }
  }

  return {
    enqueue,
    wake: () => {
      for (const l of lanes) l.wake()
    },
    start: () => {
      sweep.start()
      for (const l of lanes) l.start()
    },
    stop: async () => {
      // In-flight attempts are cut short and stay pending.
      stopping.abort()
      await Promise.all([sweep, ...lanes].map((l) => l.stop()))
    },
  }
}
export type Outbox = ReturnType<typeof createOutbox>
