import type { Metrics } from '../metrics.js'
import type { Delivery, Store } from '../store/index.js'
import type { AlertMessage, Notifier } from './types.js'

export type OutboxOptions = { attempts: number; baseDelayMs: number; maxDelayMs: number; pollMs: number }
export const defaultOutbox: OutboxOptions = { attempts: 8, baseDelayMs: 2000, maxDelayMs: 5 * 60_000, pollMs: 1000 }

/**
 * The notifiers' outbox, kept in ClickHouse: a message is written for each notifier before any
 * is sent, then sent, retried with exponential backoff and full jitter, and given up after a
 * bound; every attempt is recorded. A restart resumes what was pending and sends nothing that
 * was delivered.
 */
export type OutboxDeps = {
  store: Store
  notifiers: Notifier[]
  metrics: Metrics
  log: { warn: (o: unknown, m: string) => void }
  /** Told after every attempt is recorded (the live feed). */
  onAttempt?: (d: Delivery) => void
}

export const createOutbox = (deps: OutboxDeps, options: Partial<OutboxOptions> = {}) => {
  const opts = { ...defaultOutbox, ...options }
  const byName = new Map(deps.notifiers.map((n) => [n.name, n]))
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  let stopped = false

  /** Writes the message's delivery for each notifier, skipping those already written (a restart sends nothing again). */
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
    wake()
  }

  const record = async (d: Delivery) => {
    await deps.store.saveDelivery(d)
    try {
      deps.onAttempt?.(d)
    } catch {
      // A listener's failure must not turn a delivered message into one to send again.
    }
  }

  const attempt = async (d: Delivery) => {
    const n = byName.get(d.notifier)
    const now = Date.now()
    if (!n) return record({ ...d, status: 'failed', last_error: `no notifier ${d.notifier} configured`, updated: now })
    try {
      await n.send(JSON.parse(d.message) as AlertMessage)
      deps.metrics.alertsSent.inc({ notifier: n.name, result: 'delivered' })
      await record({ ...d, status: 'delivered', attempts: d.attempts + 1, last_error: '', updated: Date.now() })
    } catch (err) {
      deps.metrics.alertsSent.inc({ notifier: n.name, result: 'failed' })
      const attempts = d.attempts + 1
      const giveUp = attempts >= opts.attempts
      if (giveUp) deps.log.warn({ err }, `alert delivery ${d.id} gave up after ${attempts} attempts`)
      const wait = Math.random() * Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** attempts)
      await record({
        ...d,
        status: giveUp ? 'failed' : 'pending',
        attempts,
        next_at: now + wait,
        last_error: String((err as Error).message ?? err).slice(0, 500),
        updated: Date.now(),
      })
    }
  }

  const poll = async () => {
    try {
      const due = await deps.store.dueDeliveries(Date.now())
      await Promise.all(due.map(attempt))
    } catch (err) {
      deps.log.warn({ err }, 'alert outbox: could not read or record deliveries')
    }
  }

  const loop = () => {
    if (stopped) return
    running = poll().finally(() => {
      running = undefined
      if (!stopped) timer = setTimeout(loop, opts.pollMs)
    })
  }
  const wake = () => {
    if (stopped || running) return
    clearTimeout(timer)
    loop()
  }

  return {
    enqueue,
    start: () => loop(),
    stop: async () => {
      stopped = true
      clearTimeout(timer)
      await running
    },
  }
}
export type Outbox = ReturnType<typeof createOutbox>
