/**
 * OpenTelemetry's own JS SDK and OTLP/HTTP exporters (pinned devDependencies), run in this process
 * against a real collector on 127.0.0.1: a service whose `checkout` root spans fail on 2.0.0 is
 * paged on and judged bad; exception span events and log records are errors, web-vital events
 * vitals, sessions named by `session.id`; and the bad-input corpus answered with a clear 4xx or
 * a counted ignore, never a 500.
 */
import { context, SpanStatusCode, trace } from '@opentelemetry/api'
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs'
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'
import { startReceiver } from '../helpers/receiver.js'
import { storedEvents } from '../helpers/storeQueries.js'
import { waitFor } from '../helpers/waitFor.js'

const KEY = 'vgl_otlp_test_key_0001'

describe('OTLP/HTTP from the OpenTelemetry JS SDK', () => {
  const dir = tempDir()
  let c: Running
  let receiver: Awaited<ReturnType<typeof startReceiver>>
  beforeAll(async () => {
    receiver = await startReceiver()
    c = await startCollector({ dataDir: dir.path, projectKey: KEY, webhookUrl: receiver.url, evalIntervalMs: 1000 })
  })
  afterAll(async () => {
    await c?.close()
    await receiver?.close()
    dir.remove()
  })

  const resource = (release: string) => resourceFromAttributes({ 'service.name': 'shop', 'service.version': release, 'deployment.environment.name': 'production' })
  const rows = async (release: string) => {
    await c.app.vigil.stored()
    return storedEvents(c.app.vigil.store, 'default', { release })
  }

  it('judges the root spans a project names as flows: a release whose checkouts fail pages and is bad', async () => {
    const set = await fetch(`${c.url}/v1/projects/default`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ transactionFlows: { checkout: 'checkout' } }) })
    expect(set.status).toBe(200)
    // One device per session: its checkout (a root span with a child), failing with an exception.
    const run = async (release: string, sessions: number, fails: (i: number) => boolean) => {
      const exporter = new OTLPTraceExporter({ url: `${c.url}/v1/traces`, headers: { 'x-vigil-key': KEY } })
      const provider = new TracerProvider({ resource: resource(release), spanProcessors: [new BatchSpanProcessor({ exporter, maxExportBatchSize: 64 })] })
      const tracer = provider.getTracer('shop')
      for (let i = 0; i < sessions; i++) {
        const root = tracer.startSpan('checkout', { attributes: { 'session.id': `${release}-${i}` } })
        tracer.startSpan('POST /api/orders', {}, trace.setSpan(context.active(), root)).end()
        if (fails(i)) {
          root.recordException(new TypeError("Cannot read properties of undefined (reading 'total')"))
          root.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' })
        }
        root.end()
      }
      await provider.shutdown()
    }
    await run('o-1.0.0', 60, (i) => i === 13)
    await run('o-2.0.0', 40, (i) => i % 5 < 2)

    type Alert = { data: { status: string; rule: string; subject: string; release: string; summary: string } }
    const firing = () => receiver.received.map((r) => (r.json as Alert).data).filter((d) => d.status === 'firing')
    const alert = await waitFor('a checkout alert on o-2.0.0', () => firing().find((d) => d.release === 'o-2.0.0' && d.rule === 'flow_failure'), 30_000)
    expect(alert.summary).toMatch(/^checkout failed in 40\.0% of sessions on o-2\.0\.0 \(16\/40\) against 1\.7% on o-1\.0\.0/)
    const verdict = (await (await fetch(`${c.url}/v1/releases/o-2.0.0/verdict?env=production`)).json()) as { verdict: string }
    expect(verdict.verdict).toBe('bad')
    expect(firing().filter((d) => d.release === 'o-1.0.0')).toEqual([])

    const stored = await rows('o-2.0.0')
    expect(stored.filter((r) => r.kind === 'flow')).toHaveLength(40)
    expect(new Set(stored.map((r) => r.session)).size).toBe(40)
    const errors = stored.filter((r) => r.kind === 'error')
    expect(errors).toHaveLength(16)
    expect(errors[0]).toMatchObject({ name: 'TypeError', message: "Cannot read properties of undefined (reading 'total')", handled: 1 })
    expect(errors[0]!.stack).toMatch(/^TypeError: Cannot read properties of undefined \(reading 'total'\)\n    at /)
    expect(stored.find((r) => r.kind === 'flow' && r.outcome === 'fail')!.reason).toBe('card declined')
    const detail = (await (await fetch(`${c.url}/v1/releases/o-2.0.0?env=production&range=1h`)).json()) as { clients: unknown[] }
    expect(detail.clients).toEqual([{ client: 'otlp', sessions: 40, events: 56 }])
  })

  it('takes exception log records as errors (FATAL: unhandled) and browser.web_vital events as vitals', async () => {
    const exporter = new OTLPLogExporter({ url: `${c.url}/v1/logs`, headers: { authorization: `Bearer ${KEY}` } })
    const provider = new LoggerProvider({ resource: resource('o-logs'), processors: [new BatchLogRecordProcessor({ exporter })] })
    const logger = provider.getLogger('shop')
    const err = new RangeError('Invalid time value')
    logger.emit({ severityNumber: 21, severityText: 'FATAL', body: err.message, attributes: { 'session.id': 'dev-1', 'exception.type': err.name, 'exception.message': err.message, 'exception.stacktrace': err.stack } })
    logger.emit({ severityNumber: 9, body: 'user opened the plans page', attributes: { 'session.id': 'dev-1' } })
    logger.emit({ eventName: 'browser.web_vital', attributes: { 'session.id': 'dev-1', 'browser.web_vital.name': 'LCP', 'browser.web_vital.value': 1234 } })
    await provider.shutdown()
    const stored = await rows('o-logs')
    expect(stored.map((r) => [r.kind, r.session, r.name, r.handled, r.value]).sort()).toEqual([
      ['error', 'dev-1', 'RangeError', 0, 0],
      ['vital', 'dev-1', 'LCP', 0, 1234],
    ])
  })

  it('answers the bad-input corpus with a clear 4xx or a counted ignore, never a 500; an export sent again is stored once', async () => {
    const post = (body: string, headers: Record<string, string> = {}, path = '/v1/traces') =>
      fetch(`${c.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-vigil-key': KEY, ...headers }, body })
    const span = (extra: object) => ({ traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), name: 'checkout', startTimeUnixNano: String(Date.now() * 1e6), endTimeUnixNano: String(Date.now() * 1e6), ...extra })
    const exportOf = (...spans: object[]) => JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.version', value: { stringValue: 'o-corpus' } }] }, scopeSpans: [{ spans }] }] })
    const exception = (time: string) => ({ name: 'exception', timeUnixNano: time, attributes: [{ key: 'exception.type', value: { stringValue: 'Error' } }, { key: 'exception.message', value: { stringValue: 'x' } }] })
    const once = exportOf(span({ events: [exception('1e309')], attributes: [{ key: 'n', value: { intValue: '12' } }] }))
    const cases: [string, () => Promise<Response>, number, string?][] = [
      ['protobuf', () => post('\x0a\x02', { 'content-type': 'application/x-protobuf' }), 415, 'VIGIL_UNSUPPORTED_MEDIA_TYPE'],
      ['not JSON', () => post('{"resourceSpans": [', {}), 400, 'VIGIL_INVALID_JSON'],
      ['an array', () => post('[]'), 400, 'VIGIL_INVALID_ENVELOPE'],
      ['no key', () => post(exportOf(), { 'x-vigil-key': '' }), 401, 'VIGIL_MISSING_KEY'],
      ['an unknown key', () => post(exportOf(), { 'x-vigil-key': 'vgl_nobody' }), 403, 'VIGIL_UNKNOWN_KEY'],
      ['fields of the wrong types', () => post(JSON.stringify({ resourceSpans: [7, { scopeSpans: 'x' }, { scopeSpans: [{ spans: [null, 'span', { events: 3 }] }] }] })), 200],
      ['an exception at 1e309 ns, with an intValue as a string', () => post(once), 200],
      ['the same export again', () => post(once), 200],
      ['logs with an empty body', () => post('{}', {}, '/v1/logs'), 200],
      // A service's root span continues its caller's trace: its parent is remote (flags 0x300).
      ['a root span with a remote parent', () => post(exportOf(span({ parentSpanId: 'ef'.repeat(8), flags: 0x301, status: { code: 2, message: 'timeout' } }))), 200],
      ['a span with a local parent', () => post(exportOf(span({ parentSpanId: 'ef'.repeat(8), flags: 0x101, spanId: '12'.repeat(8) }))), 200],
    ]
    for (const [what, send, status, code] of cases) {
      const res = await send()
      const answer = (await res.json()) as { code?: string }
      expect([what, res.status, answer.code]).toEqual([what, status, code])
    }
    const preflight = await fetch(`${c.url}/v1/traces`, { method: 'OPTIONS', headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, x-vigil-key' } })
    expect(preflight.status).toBe(204)
    const stored = await rows('o-corpus')
    // The root span is the project's checkout flow; its exception's time, unreadable, is the span's end.
    expect(stored.map((r) => [r.kind, r.name, r.outcome]).sort()).toEqual([['error', 'Error', ''], ['flow', 'checkout', 'fail'], ['flow', 'checkout', 'ok']])
    expect(Math.abs(stored[0]!.ts - Date.now())).toBeLessThan(60_000)
    const metrics = await (await fetch(`${c.url}/metrics`)).text()
    expect(metrics).toMatch(/vigil_items_ignored_total\{intake="otlp",type="span"\} [1-9]/)
  })
})
