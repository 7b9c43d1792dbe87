import { query, type Where } from './api.js'
import { badge } from './badge.js'
import { el } from './dom.js'
import { ago, count, pct, points, releaseList, time, vital, when } from './format.js'
import type { Overview, ReleaseRow } from './types.js'

const link = (release: string, w: Where) => `/releases/${encodeURIComponent(release)}?${query(w)}`

/** A flow's cell: the release's failure rate, its baseline and the difference, worse in red. */
const flowCell = (r: ReleaseRow, flow: string) => {
  const f = r.flows[flow]
  if (!f) return el('td', { class: 'n muted' }, '—')
  // Red is the detector's call (an alert firing on this flow), not any difference.
  const worse = r.firing.some((a) => a.subject === flow)
  const base = f.baseline ? `; baseline ${f.baseline.failed_sessions} of ${f.baseline.sessions} on ${releaseList(f.baseline)}` : ''
  return el(
    'td',
    { class: `n flow${worse ? ' worse' : ''}`, data: { flow }, title: `${f.failed_sessions} of ${f.sessions} sessions failed ${flow}${base}` },
    el('span', { class: 'rate', data: { metric: 'failure_rate' } }, pct(f.failure_rate)),
    el(
      'small',
      {},
      'base ',
      el('span', { data: { metric: 'baseline' } }, pct(f.baseline?.failure_rate)),
      ' · ',
      el('span', { data: { metric: 'difference' } }, points(f.difference)),
    ),
  )
}

/** Alerts firing in this environment, first thing on the page: what is bad, on what, since when. */
const banner = (o: Overview, w: Where) => {
  const firing = o.firing
  if (firing.length === 0) return null
  return el(
    'section',
    { class: 'banner', id: 'firing', role: 'alert' },
    ...firing.map((a) =>
      el(
        'p',
        { data: { release: a.release } },
        el('strong', {}, `${a.release} is bad`),
        ' ',
        el('span', { class: 'muted' }, `since ${when(a.fired_at)}`),
        ` — when it fired: ${a.summary} `,
        el('a', { href: link(a.release, w) }, 'open'),
      ),
    ),
  )
}

export const releasesView = (o: Overview, w: Where): HTMLElement => {
  const head = el(
    'tr',
    {},
    el('th', {}, 'Release'),
    el('th', {}, 'Verdict'),
    el('th', {}, 'First seen'),
    el('th', { class: 'n' }, 'Adoption'),
    el('th', { class: 'n' }, 'Sessions'),
    el('th', { class: 'n' }, 'Crash-free'),
    ...o.flows.map((f) => el('th', { class: 'n', title: 'Sessions that failed the flow; its baseline (older releases, same window) and the difference' }, `${f} failed`)),
    ...o.vitals.map((v) => el('th', { class: 'n', title: `${v} 75th percentile` }, `${v} p75`)),
  )
  const rows = o.releases.map((r) =>
    el(
      'tr',
      { class: r.verdict === 'bad' ? 'bad' : '', data: { release: r.release } },
      el('td', {}, el('a', { href: link(r.release, w) }, r.release || '(no release)')),
      el('td', { title: r.reasons.join('\n') }, badge(r.verdict)),
      el('td', { title: time(r.first_seen) }, ago(r.first_seen)),
      el('td', { class: 'n', data: { metric: 'adoption' } }, pct(r.adoption)),
      el('td', { class: 'n', data: { metric: 'sessions' } }, count(r.sessions)),
      el('td', { class: 'n', data: { metric: 'crash_free' } }, pct(r.crash_free_sessions)),
      ...o.flows.map((f) => flowCell(r, f)),
      ...o.vitals.map((v) => {
        const x = r.vitals_p75[v]
        return el('td', { class: 'n', data: { vital: v }, title: x ? `${x.samples} samples` : '' }, x ? vital(v, x.p75) : '—')
      }),
    ),
  )
  return el(
    'div',
    { id: 'releases-view' },
    banner(o, w),
    el('table', { id: 'releases' }, el('thead', {}, head), el('tbody', {}, ...rows)),
    o.more_releases > 0 ? el('p', { class: 'muted', id: 'more' }, `${o.more_releases} older releases active in this range are not listed.`) : null,
    o.releases.length === 0
      ? el('p', { id: 'empty', class: 'muted' }, `No release of ${o.project} reported in ${o.environment} in the last ${o.range}. Paste the script tag the collector printed into a page and load it, or widen the range.`)
      : null,
  )
}
