import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/**
 * What an operator watches, at GET /metrics. Every event the collector refuses or drops is
 * counted here with its reason.
 */
export const createMetrics = () => {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'vigil_process_' })
  const counter = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers: [registry] })
  const histogram = <L extends string = never>(name: string, help: string, buckets: number[], labelNames: readonly L[] = []) =>
    new Histogram<L>({ name, help, buckets, labelNames, registers: [registry] })

  // Intake: what came in, and what was refused or dropped, with the reason.
  const eventsAccepted = counter('vigil_events_accepted_total', 'Events accepted and stored', ['kind'])
  const eventsRefused = counter('vigil_events_refused_total', 'Events not stored, by reason (invalid_event, unknown_type, too_old, too_many_releases and the other limits, a whole batch refused by its error code, …)', ['reason'])
  const batchesRefused = counter('vigil_batches_refused_total', 'Ingest requests refused whole, by error code (their events are in vigil_events_refused_total)', ['code'])
  const requestsRefused = counter('vigil_requests_refused_total', 'Requests to the dashboard, its APIs, the admin APIs and the live feed refused for where they came from: a page of another site (VIGIL_CROSS_SITE), a host name not allowed (VIGIL_HOST_NOT_ALLOWED), a login form not given out here (VIGIL_LOGIN_FORM_STALE)', ['code'])
  const forwardedUntrusted = counter('vigil_forwarded_untrusted_total', 'Ingest requests with X-Forwarded-For from a peer not in VIGIL_TRUST_PROXY (its clients all count as one network)')
  const batchesDuplicate = counter('vigil_batches_duplicate_total', 'Batches received again (retry or beacon and fetch both arrived) and stored only once')
  // Other clients' intake (Sentry envelopes, OTLP): what was not for us, and what the clients dropped themselves.
  const itemsIgnored = counter('vigil_items_ignored_total', 'Items of other clients taken and not stored, as nothing Vigil judges (a Sentry replay or attachment, a transaction or span no flow is named for, a log record that is no error), by intake and item type', ['intake', 'type'])
  const clientDiscarded = counter('vigil_client_discarded_total', "Events a client reports it dropped itself before sending (Sentry's client reports), by intake, reason and category", ['intake', 'reason', 'category'])

  // The spool and storage.
  const spoolAppendSeconds = histogram('vigil_spool_append_seconds', 'Time to put one request on disk (write and fsync, group commit included): the wait before its 202', [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1])
  const insertSeconds = histogram('vigil_clickhouse_insert_seconds', 'Time of one insert of spooled rows into ClickHouse', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])
  const rowsQuarantined = counter('vigil_rows_quarantined_total', 'Rows ClickHouse refused for what they hold, set aside in the spool\'s quarantine directory (the rest of their insert is stored)')
  const rowsStored = counter('vigil_rows_stored_total', 'Rows moved from the spool into ClickHouse')

  // Source maps.
  const sourceMapUploads = counter('vigil_sourcemap_uploads_total', 'Source map uploads: stored, or refused by error code', ['result'])
  const sourceMapLoadSeconds = histogram('vigil_sourcemap_load_seconds', 'Time to read a source map from ClickHouse for the cache (found: a map, or none for that file)', [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], ['found'])
  const sourceMapLoadsDeferred = counter('vigil_sourcemap_loads_deferred_total', 'Frames left minified for now because parsing source maps took its share of the event loop (VIGIL_SOURCEMAP_PARSE_MS per 10 s)')
  const regroupSeconds = histogram('vigil_regroup_seconds', 'Time the event loop spent regrouping one chunk of rows by source maps before its insert (the cost of symbolication on the way into ClickHouse; waits for map reads left out)', [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1])
  const errorsRegrouped = counter('vigil_errors_regrouped_total', "Errors grouped by their original source (their release's source map), as they were stored")

  // Read when scraped, from whatever `watch` was given.
  const watched = { spoolBytes: () => 0, spoolSegments: () => 0, sourceMapBytes: () => 0, drainLag: () => 0, lookLag: () => 0, lastLook: () => 0 }
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
  const lastLook = scraped('vigil_detector_last_look_timestamp_seconds', "When the detector's last look completed (Unix time; the start until the first)", 'lastLook')
  const watch = (w: Partial<typeof watched>) => void Object.assign(watched, w)

  // The detector and the alerts it sends.
  const looks = counter('vigil_detector_looks_total', 'Detector looks at every project, by result (done, failed)', ['result'])
  const lookSeconds = histogram('vigil_detector_look_seconds', 'Time of one detector look at every project, by result (done, failed)', [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], ['result'])
  const releasesSkipped = counter('vigil_detector_releases_skipped_total', 'Live releases a look did not judge: past VIGIL_LIMIT_ENVIRONMENTS environments of a project, or VIGIL_LIMIT_RELEASES releases of an environment (those with alerts firing, then those with the most sessions, are judged)')
  // The dashboard's reads (readApi.ts, snapshots.ts).
  const pageAnswers = counter('vigil_page_answers_total', "The dashboard's page reads (overview, release), by how each was answered: kept (an answer computed since the last look), computed (asked for, not kept), renewed (computed again after a look, before the pages were told)", ['page', 'answer'])
  const pageSeconds = histogram('vigil_page_compute_seconds', "Time to compute one answer of the dashboard's pages (overview, release) from ClickHouse", [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], ['page'])
  const alertsSent = counter('vigil_alert_deliveries_total', 'Alert notifications delivered or failed, by notifier', ['notifier', 'result'])
  return {
    registry, eventsAccepted, eventsRefused, batchesRefused, requestsRefused, batchesDuplicate, itemsIgnored, clientDiscarded, forwardedUntrusted, spoolAppendSeconds,
    insertSeconds, rowsStored, rowsQuarantined, spoolBytes, spoolSegments, watch, alertsSent, releasesSkipped,
    sourceMapUploads, sourceMapLoadSeconds, errorsRegrouped, sourceMapLoadsDeferred, regroupSeconds, sourceMapBytes, drainLag, lookLag,
    lookSeconds, looks, lastLook, pageAnswers, pageSeconds,
  }
}
export type Metrics = ReturnType<typeof createMetrics>
