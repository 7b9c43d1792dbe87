import { query, type Where } from './api.js'
import { badge } from './badge.js'
import { flowChart, type FlowChart } from './chart.js'
import { el } from './dom.js'
import { count, pct, points, releaseList, time, vital, when } from './format.js'
import type { AlertItem, ErrorGroup, ReleaseDetail } from './types.js'

const stat = (label: string, value: string, metric: string) => el('div', { class: 'stat' }, el('span', { class: 'label' }, label), el('span', { class: 'value', data: { metric } }, value))

const CLIENT_NAMES: Record<string, string> = { vigil: 'Vigil agent', sentry: 'Sentry SDK', otlp: 'OpenTelemetry' }

/** Which clients the release's data came through in the range: a project may mix them. */
const clientsLine = (d: ReleaseDetail) =>
  d.clients.length === 0
    ? null
    : el(
        'p',
        { class: 'clients muted' },
        'Data from ',
        ...d.clients.flatMap((c, i) => [
          i ? ' · ' : '',
          el('span', { data: { client: c.client } }, `${CLIENT_NAMES[c.client] ?? c.client} (${count(c.sessions)} sessions, ${count(c.events)} events)`),
        ]),
      )

const errorRow = (g: ErrorGroup, open: Set<string>) =>
  el(
    'li',
    { class: 'error-group', data: { fingerprint: g.fingerprint } },
    el(
      'details',
      // A stack someone opened stays open across live refreshes.
      { open: open.has(g.fingerprint), ontoggle: (e: Event) => ((e.target as HTMLDetailsElement).open ? open.add(g.fingerprint) : open.delete(g.fingerprint)) },
      el(
        'summary',
        {},
        el('span', { class: 'etype' }, g.type || 'Error'),
        ' ',
        el('span', { class: 'emessage' }, g.message),
        g.new_in_release ? el('span', { class: 'tag new' }, 'new in this release') : null,
        // Stored before the release's maps: one group per minified stack, which two bugs with one message may share.
        g.symbolicated && g.grouped_by === 'stack' ? el('span', { class: 'tag', title: 'Stored before this release had source maps: grouped by its minified stack, which bugs with the same message in the same bundle share' }, 'grouped by minified stack') : null,
        g.handled ? el('span', { class: 'tag' }, 'handled') : el('span', { class: 'tag unhandled' }, 'unhandled'),
        el('span', { class: 'counts' }, `${count(g.sessions)} sessions · ${count(g.events)} events · first seen ${time(g.first_seen)}`),
      ),
      g.symbolicated ? originalStack(g) : el('pre', { class: 'stack' }, g.stack || '(no stack)'),
      g.symbolicated
        ? el('details', { class: 'minified' }, el('summary', {}, 'Stack as the browser sent it'), el('pre', { class: 'stack' }, g.stack))
        : g.stack && el('p', { class: 'muted small' }, 'No source map for this release: readable frames after `npx vigil sourcemaps upload`.'),
    ),
  )

type Frame = ErrorGroup['frames'][number]

/**
 * A release's feature-flag cohorts: per flag a table, a row per variant — its verdict against the
 * flag's other variants, sessions, crash rate, and each flow's and endpoint's failure rate.
 */
const cohortTables = (d: ReleaseDetail) => {
  if (d.cohorts === null) return [el('p', { class: 'muted' }, 'Flag cohorts could not be read in time; they come back with the next refresh.')]
  if (d.cohorts.length === 0) return [el('p', { class: 'muted' }, `No feature flag (vigil.flag) reported on ${d.release} in the last ${d.range}.`)]
  return d.cohorts.map((c) => {
    const names = [...new Set(c.variants.flatMap((v) => v.flows.map((f) => f.flow)))].sort()
    return el(
      'table',
      { class: 'cohorts', data: { flag: c.flag } },
      el('caption', {}, c.flag),
      el('tr', {}, ...['Variant', 'Verdict', 'Sessions', 'Crash rate', ...names].map((h) => el('th', {}, h))),
      ...c.variants.map((v) =>
        el(
          'tr',
          { data: { variant: v.variant } },
          el('td', {}, v.variant),
          el('td', { title: v.reasons.join('\n') }, badge(v.verdict)),
          el('td', {}, count(v.sessions)),
          el('td', { data: { metric: 'crash_rate' } }, pct(v.crash_rate)),
          ...names.map((n) => {
            const f = v.flows.find((x) => x.flow === n)
            return el('td', { data: { flow: n } }, f ? `${pct(f.failure_rate)} (${count(f.failed_sessions)}/${count(f.sessions)})` : '—')
          }),
        ),
      ),
    )
  })
}

const frameLine = (f: Frame) => `at ${f.fn || '<anonymous>'} (${f.file}${f.line ? `:${f.line}:${f.col}` : ''})`

/** The stack at its original places: the app's frames stand out, with their source lines where the map has them. */
const originalStack = (g: ErrorGroup) =>
  el(
    'ol',
    { class: 'frames' },
    ...g.frames.map((f) =>
      el(
        'li',
        { class: `frame${f.inApp ? ' app' : ''}${f.mapped ? '' : ' unmapped'}` },
        el('code', {}, frameLine(f)),
        f.context
          ? el(
              'pre',
              { class: 'source' },
              ...f.context.lines.map((text, i) => {
                const n = f.context!.start + i
                return el('span', { class: n === f.line ? 'line here' : 'line' }, el('span', { class: 'ln' }, String(n)), text, '\n')
              }),
            )
          : null,
      ),
    ),
  )

/** Fired, each delivery, resolved: newest first. */
const timeline = (alerts: AlertItem[]) => {
  const items = alerts.flatMap((a) => [
    { at: a.fired_at, cls: 'fired', text: `fired: ${a.summary}` },
    ...a.deliveries.map((d) => ({
      at: d.updated,
      cls: `delivery ${d.status}`,
      text: `${d.notifier} (${d.type}): ${d.status}${d.attempts > 1 ? ` after ${d.attempts} attempts` : ''}${d.last_error ? ` — ${d.last_error}` : ''}`,
    })),
    ...(a.resolved_at ? [{ at: a.resolved_at, cls: 'resolved', text: `resolved: ${a.rule} ${a.subject}` }] : []),
  ])
  items.sort((x, y) => Date.parse(y.at) - Date.parse(x.at))
  if (items.length === 0) return el('p', { class: 'muted' }, 'No alert for this release.')
  return el('ol', { class: 'timeline' }, ...items.map((i) => el('li', { class: i.cls }, el('time', { title: i.at }, time(i.at)), ' ', i.text)))
}

/** Where a firing alert's failed sessions concentrate: each segment's share of them against its share of all. */
const affectedOf = (a: AlertItem) =>
  a.affected && a.affected.segments.length
    ? el(
        'p',
        { class: 'affected small', data: { alert: a.dedup_key } },
        `Who is affected (${a.rule} ${a.subject}): `,
        ...a.affected.segments.flatMap((s, i) => [
          i ? ' · ' : '',
          el('strong', {}, s.dimension === 'tag' ? s.value : `${s.dimension} ${s.value}`),
          ` ${pct(s.failed_share)} of failed sessions, ${pct(s.session_share)} of all`,
        ]),
      )
    : null

/**
 * The release view. Its charts live across refreshes (only their data changes); everything
 * else is rebuilt from each answer.
 */
export const createReleaseView = () => {
  const charts = new Map<string, FlowChart>()
  const open = new Set<string>()
  addEventListener('resize', () => charts.forEach((c) => c.resize()))
  return (d: ReleaseDetail, w: Where): HTMLElement => {
    // A flow gone from the answer (another range, say) takes its chart with it.
    for (const [flow, chart] of charts) {
      if (d.flows.some((f) => f.flow === flow)) continue
      chart.destroy()
      charts.delete(flow)
    }
    const firingNow = d.alerts.filter((a) => a.status === 'firing')
    const firing = new Set(firingNow.map((a) => a.subject))
    // Since the first alert still firing.
    const since = firingNow.map((a) => a.fired_at).sort()[0]
    const step = d.step_s >= 3600 ? `${d.step_s / 3600} h` : d.step_s >= 60 ? `${d.step_s / 60} min` : `${d.step_s} s`
    const flows = d.flows.map((f) => {
      const s = d.series.find((x) => x.flow === f.flow)
      let chart = charts.get(f.flow)
      if (s && chart) chart.update(s)
      else if (s) charts.set(f.flow, (chart = flowChart(s, d.release)))
      return el(
        'section',
        { class: 'card flow', data: { flow: f.flow } },
        el('h3', {}, f.flow),
        el(
          'p',
          {},
          el('span', { data: { metric: 'failure_rate' } }, pct(f.failure_rate)),
          ` of sessions failed (${count(f.failed_sessions)}/${count(f.sessions)}) · baseline `,
          el('span', { data: { metric: 'baseline' } }, pct(f.baseline?.failure_rate)),
          f.baseline ? ` (${releaseList(f.baseline)}: ${count(f.baseline.failed_sessions)}/${count(f.baseline.sessions)})` : ' (no older release ran it meanwhile)',
          ' · ',
          el('span', { class: firing.has(f.flow) ? 'worse' : '', data: { metric: 'difference' } }, points(f.difference)),
        ),
        el('p', { class: 'muted small' }, `Failed sessions ÷ sessions per ${step}`),
        chart?.node,
      )
    })
    // Each endpoint its requests called, the worst first: a row, not a chart.
    const requests = [...d.requests]
      .sort((a, b) => b.failure_rate - a.failure_rate || a.endpoint.localeCompare(b.endpoint))
      .map((r) =>
        el(
          'tr',
          { data: { endpoint: r.endpoint } },
          el('td', { class: 'endpoint' }, r.endpoint),
          el('td', { data: { metric: 'failure_rate' } }, `${pct(r.failure_rate)} (${count(r.failed_sessions)}/${count(r.sessions)})`),
          el('td', { data: { metric: 'baseline' } }, r.baseline ? `${pct(r.baseline.failure_rate)} (${releaseList(r.baseline)})` : '—'),
          el('td', { class: firing.has(r.endpoint) ? 'worse' : '', data: { metric: 'difference' } }, points(r.difference)),
          el('td', {}, count(r.failures)),
        ),
      )
    const vitals = Object.entries(d.vitals_p75)
    return el(
      'div',
      { id: 'release-view', data: { release: d.release } },
      el('p', {}, el('a', { href: `/?${query(w)}` }, '← all releases')),
      el('h2', {}, 'Release ', el('span', { id: 'release-name' }, d.release), ' ', badge(d.verdict.verdict), el('span', { class: 'muted env' }, ` ${d.environment}`)),
      since ? el('p', { id: 'bad-since', class: 'worse' }, `bad since ${when(since)}`) : null,
      d.verdict.reasons.length ? el('ul', { class: `reasons ${d.verdict.verdict}` }, ...d.verdict.reasons.map((r) => el('li', {}, r))) : null,
      ...firingNow.map((a) => affectedOf(a)),
      el(
        'div',
        { class: 'stats' },
        stat('First seen', d.first_seen ? when(d.first_seen) : '—', 'first_seen'),
        stat('Sessions', count(d.sessions), 'sessions'),
        stat('Adoption', pct(d.adoption), 'adoption'),
        stat('Crash-free sessions', pct(d.crash_free_sessions), 'crash_free'),
        ...vitals.map(([n, v]) => stat(`${n} p75`, vital(n, v.p75), `vital-${n}`)),
      ),
      clientsLine(d),
      el('h2', {}, 'Flows'),
      flows.length ? el('div', { class: 'flows' }, ...flows) : el('p', { class: 'muted' }, `No flow ran on ${d.release} in the last ${d.range}.`),
      el('h2', {}, 'Requests'),
      requests.length
        ? el(
            'table',
            { class: 'requests' },
            el('tr', {}, ...['Endpoint', 'Sessions with a failed call', 'Baseline', 'Difference', 'Failed calls'].map((h) => el('th', {}, h))),
            ...requests,
          )
        : el('p', { class: 'muted' }, `No request of ${d.release} reported in the last ${d.range}.`),
      el('h2', {}, 'Flag cohorts'),
      ...cohortTables(d),
      el('h2', {}, 'Errors'),
      d.error_groups.length ? el('ul', { class: 'errors' }, ...d.error_groups.map((g) => errorRow(g, open))) : el('p', { class: 'muted' }, 'No error in this window.'),
      el('h2', {}, 'Alerts'),
      timeline(d.alerts),
    )
  }
}
