import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

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
    help: 'Events not stored, by reason (invalid_event, unknown_type, too_old, too_many_releases and the other limits, a whole batch refused by its error code, …)',
    labelNames: ['reason'] as const,
    registers: [registry],
  })
  const batchesRefused = new Counter({
    name: 'vigil_batches_refused_total',
    help: 'Ingest requests refused whole, by error code (their events are in vigil_events_refused_total)',
    labelNames: ['code'] as const,
    registers: [registry],
  })
  const requestsRefused = new Counter({
    name: 'vigil_requests_refused_total',
    help: 'Requests to the dashboard, its APIs, the admin APIs and the live feed refused for where they came from: a page of another site (VIGIL_CROSS_SITE), a host name not allowed (VIGIL_HOST_NOT_ALLOWED), a login form not given out here (VIGIL_LOGIN_FORM_STALE)',
    labelNames: ['code'] as const,
    registers: [registry],
  })
  const forwardedUntrusted = new Counter({
    name: 'vigil_forwarded_untrusted_total',
    help: 'Ingest requests with X-Forwarded-For from a peer not in VIGIL_TRUST_PROXY (its clients all count as one network)',
    registers: [registry],
  })
  const batchesDuplicate = new Counter({
    name: 'vigil_batches_duplicate_total',
    help: 'Batches received again (retry or beacon and fetch both arrived) and stored only once',
    registers: [registry],
  })
  const spoolAppendSeconds = new Histogram({
    name: 'vigil_spool_append_seconds',
    help: 'Time to put one request on disk (write and fsync, group commit included): the wait before its 202',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  })
  const insertSeconds = new Histogram({
    name: 'vigil_clickhouse_insert_seconds',
    help: 'Time of one insert of spooled rows into ClickHouse',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  })
  const rowsQuarantined = new Counter({
    name: 'vigil_rows_quarantined_total',
    help: 'Rows ClickHouse refused for what they hold, set aside in the spool\'s quarantine directory (the rest of their insert is stored)',
    registers: [registry],
  })
  const rowsStored = new Counter({
    name: 'vigil_rows_stored_total',
    help: 'Rows moved from the spool into ClickHouse',
    registers: [registry],
  })
  const sourceMapUploads = new Counter({
    name: 'vigil_sourcemap_uploads_total',
    help: 'Source map uploads: stored, or refused by error code',
    labelNames: ['result'] as const,
    registers: [registry],
  })
  const sourceMapLoadSeconds = new Histogram({
    name: 'vigil_sourcemap_load_seconds',
    help: 'Time to read a source map from ClickHouse for the cache (found: a map, or none for that file)',
    labelNames: ['found'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  })
  const sourceMapLoadsDeferred = new Counter({
    name: 'vigil_sourcemap_loads_deferred_total',
    help: 'Frames left minified for now because parsing source maps took its share of the event loop (VIGIL_SOURCEMAP_PARSE_MS per 10 s)',
    registers: [registry],
  })
  const regroupSeconds = new Histogram({
    name: 'vigil_regroup_seconds',
    help: 'Time the event loop spent regrouping one chunk of rows by source maps before its insert (the cost of symbolication on the way into ClickHouse; waits for map reads left out)',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  })
  const errorsRegrouped = new Counter({
    name: 'vigil_errors_regrouped_total',
    help: "Errors grouped by their original source (their release's source map), as they were stored",
    registers: [registry],
  })
  // Read when scraped, from whatever `watch` was given.
  const watched = { spoolBytes: () => 0, spoolSegments: () => 0, sourceMapBytes: () => 0, drainLag: () => 0, lookLag: () => 0 }
  const scraped = (name: string, help: string, read: keyof typeof watched) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(watched[read]())
      },
    })
  const spoolBytes = scraped('vigil_spool_bytes', 'Bytes in the spool, waiting for ClickHouse', 'spoolBytes')
  const spoolSegments = scraped('vigil_spool_segments_pending', 'Sealed spool segments waiting for ClickHouse (the queue depth)', 'spoolSegments')
  const sourceMapBytes = scraped('vigil_sourcemap_cache_bytes', 'Parsed source maps held in memory, about (VIGIL_SOURCEMAP_CACHE_MB)', 'sourceMapBytes')
  const drainLag = scraped('vigil_drain_lag_seconds', 'Age of the oldest accepted event not yet in ClickHouse (0: none waits)', 'drainLag')
  const lookLag = scraped('vigil_detector_lag_seconds', "Time since the detector's last completed look", 'lookLag')
  const watch = (w: Partial<typeof watched>) => void Object.assign(watched, w)
  const lookSeconds = new Histogram({
    name: 'vigil_detector_look_seconds',
    help: 'Time of one detector look at every project, by result (done, failed)',
    labelNames: ['result'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  })
  const releasesSkipped = new Counter({
    name: 'vigil_detector_releases_skipped_total',
    help: 'Live releases a look did not judge: past VIGIL_LIMIT_ENVIRONMENTS environments of a project, or VIGIL_LIMIT_RELEASES releases of an environment (those with alerts firing, then those with the most sessions, are judged)',
    registers: [registry],
  })
  const alertsSent = new Counter({
    name: 'vigil_alert_deliveries_total',
    help: 'Alert notifications delivered or failed, by notifier',
    labelNames: ['notifier', 'result'] as const,
    registers: [registry],
  })
  return {
    registry,
    eventsAccepted,
    eventsRefused,
    batchesRefused,
    requestsRefused,
    batchesDuplicate,
    forwardedUntrusted,
    spoolAppendSeconds,
    insertSeconds,
    rowsStored,
    rowsQuarantined,
    spoolBytes,
    spoolSegments,
    watch,
    alertsSent,
    releasesSkipped,
    sourceMapUploads,
    sourceMapLoadSeconds,
    errorsRegrouped,
    sourceMapLoadsDeferred,
    regroupSeconds,
    sourceMapBytes,
    drainLag,
    lookLag,
    lookSeconds,
  }
}
export type Metrics = ReturnType<typeof createMetrics>
