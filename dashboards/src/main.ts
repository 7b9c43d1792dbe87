/**
 * The health page: `/` lists the releases of a project and environment, `/releases/:release`
 * shows one. It fetches what it shows from the collector's read API, and again whenever the live
 * feed says the detector looked or an alert changed (and every 30 s regardless).
 */
import { HttpError, overview, query, RANGES, release, where, type Where } from './api.js'
import { el } from './dom.js'
import { subscribe, type LiveMessage } from './live.js'
import { createReleaseView } from './releaseView.js'
import { releasesView } from './releasesView.js'
import type { Choices } from './types.js'

const main = document.querySelector('main')!
const status = document.getElementById('status')!
const selectors = document.getElementById('selectors')!
const releaseName = location.pathname.startsWith('/releases/') ? decodeURIComponent(location.pathname.slice('/releases/'.length)) : null
const releaseView = createReleaseView()
let live = false
let w: Where = where()

const go = (next: Partial<Where>) => {
  w = { ...w, ...next }
  history.replaceState(null, '', `${location.pathname}?${query(w)}`)
  void refresh()
}

const select = (id: string, options: { value: string; label: string }[], value: string, on: (v: string) => void) =>
  el('select', { id, onchange: (e: Event) => on((e.target as HTMLSelectElement).value) }, ...options.map((o) => el('option', { value: o.value, selected: o.value === value }, o.label)))

// Rebuilt only when what they offer changes: a refresh must not close a list someone has open.
let offered = ''
const renderSelectors = (c: Choices) => {
  const projects = c.projects.some((p) => p.id === w.project) ? c.projects : [{ id: w.project, name: w.project }, ...c.projects]
  const key = JSON.stringify([projects, c.environments, w])
  if (key === offered) return
  offered = key
  selectors.replaceChildren(
    el('label', {}, 'Project ', select('project', projects.map((p) => ({ value: p.id, label: p.name === p.id ? p.id : `${p.name} (${p.id})` })), w.project, (v) => go({ project: v, env: '' }))),
    el('label', {}, 'Environment ', select('env', c.environments.map((e) => ({ value: e, label: e })), w.env, (v) => go({ env: v }))),
    el(
      'span',
      { class: 'ranges', role: 'group' },
      ...RANGES.map((r) => el('button', { type: 'button', class: r === w.range ? 'on' : '', data: { range: r }, onclick: () => go({ range: r }) }, r)),
    ),
  )
}

/** What the selectors offered last: a missing release's page needs no other read to show them again. */
let known: Choices | null = null

const notFound = (project: string, env: string) => () =>
  el('div', {}, el('p', { class: 'muted', id: 'not-found' }, `No release ${releaseName} has reported in ${project} / ${env}.`), el('a', { href: `/?${query(w)}` }, '← all releases'))

/** One view's answer: the releases of an environment, or one release. */
const load = async (asked: Where): Promise<{ env: string; choices: Choices; show: () => HTMLElement }> => {
  if (releaseName === null) {
    const o = await overview(asked)
    return { env: o.environment, choices: o, show: () => releasesView(o, w) }
  }
  try {
    const d = await release(releaseName, asked)
    return { env: d.environment, choices: d, show: () => releaseView(d, w) }
  } catch (err) {
    if (!(err instanceof HttpError && err.status === 404)) throw err
    if (known && asked.env) return { env: asked.env, choices: known, show: notFound(asked.project, asked.env) }
    const o = await overview(asked)
    return { env: o.environment, choices: o, show: notFound(o.project, o.environment) }
  }
}

let running: Promise<void> | null = null
let again = false
const refresh = async (): Promise<void> => {
  // One refresh at a time; a request arriving meanwhile makes one more afterwards.
  if (running) {
    again = true
    return running
  }
  running = (async () => {
    const asked = w
    try {
      const answer = await load(asked)
      // The view changed while this was asked (another environment, range…): the next refresh shows it.
      if (w !== asked) return void (again = true)
      if (!w.env) {
        w = { ...w, env: answer.env }
        history.replaceState(null, '', `${location.pathname}?${query(w)}`)
      }
      renderSelectors((known = answer.choices))
      document.title = releaseName === null ? `Vigil — ${w.project} / ${answer.env}` : `Vigil — ${releaseName}`
      main.replaceChildren(answer.show())
      status.textContent = `${live ? 'live' : 'reconnecting'} · updated ${new Date().toLocaleTimeString()}`
      status.className = live ? 'live' : ''
    } catch (err) {
      status.textContent = err instanceof HttpError ? err.message : 'collector unreachable, retrying…'
      status.className = 'down'
    } finally {
      running = null
      if (again) {
        again = false
        void refresh()
      }
    }
  })()
  return running
}

// A look (every 5 s) barely moves a day's or a week's numbers, and those reads cost the most
// (chDB runs one query at a time, the detector's included): wide ranges follow looks every 30 s.
// Alerts and deliveries are shown at once.
let lookedAt = 0
// The feed's first message is the look it sends on connecting; the first time, the page's own
// first refresh (asked before the socket opened) already covers it.
let firstConnect = true
const onLive = (m: LiveMessage) => {
  if (firstConnect && m.type === 'look') return void (firstConnect = false)
  // An alert or a delivery of another project changes nothing here.
  if ('project' in m && m.project !== w.project) return
  if (m.type === 'look') {
    const wide = w.range === '24h' || w.range === '7d'
    if (wide && Date.now() - lookedAt < 30_000) return
    lookedAt = Date.now()
  }
  void refresh()
}

subscribe(
  onLive,
  (up) => {
    live = up
    status.className = up ? 'live' : ''
  },
)
void refresh()
setInterval(refresh, 30_000)
