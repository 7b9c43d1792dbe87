import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/**
 * What an operator watches, at GET /metrics. Every event the collector refuses or drops is
 * counted here with its reason.
 */
export const createMetrics = () => {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'vigil_process_' })
  const eventsAccepted = new Counter({
    name: 'vigil_events_accepted_total',
    help: 'Events accepted and stored',
    labelNames: ['kind'] as const,
    registers: [registry],
  })
  const eventsRefused = new Counter({
    name: 'vigil_events_refused_total',
    help: 'Events not stored, by reason (invalid_event, unknown_type, too_old, a whole batch refused by its error code, …)',
    labelNames: ['reason'] as const,
    registers: [registry],
  })
  const batchesRefused = new Counter({
    name: 'vigil_batches_refused_total',
    help: 'Ingest requests refused whole, by error code (their events are in vigil_events_refused_total)',
    labelNames: ['code'] as const,
    registers: [registry],
  })
  const batchesDuplicate = new Counter({
    name: 'vigil_batches_duplicate_total',
    help: 'Batches received again (retry or beacon and fetch both arrived) and stored only once',
    registers: [registry],
  })
  const insertSeconds = new Histogram({
    name: 'vigil_clickhouse_insert_seconds',
    help: 'Time to store one ingest request in ClickHouse (group commit included)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  })
  const alertsSent = new Counter({
    name: 'vigil_alert_deliveries_total',
    help: 'Alert notifications delivered or failed, by notifier',
    labelNames: ['notifier', 'result'] as const,
    registers: [registry],
  })
  return { registry, eventsAccepted, eventsRefused, batchesRefused, batchesDuplicate, insertSeconds, alertsSent }
}
export type Metrics = ReturnType<typeof createMetrics>
