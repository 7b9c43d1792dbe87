/**
 * The health page: `/` lists the releases of a project and environment, `/releases/:release`
 * shows one. It fetches what it shows from the collector's read API, and again whenever the live
 * feed says the detector looked or an alert changed (and every 30 s regardless).
 */
import { HttpError, overview, query, RANGES, release, where, type Where } from './api.js'
import { el } from './dom.js'
import { subscribe } from './live.js'
import { createReleaseView } from './releaseView.js'
import { releasesView } from './releasesView.js'
import type { Overview } from './types.js'

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

const renderSelectors = (o: Pick<Overview, 'projects' | 'environments'>) => {
  const projects = o.projects.some((p) => p.id === w.project) ? o.projects : [{ id: w.project, name: w.project }, ...o.projects]
  selectors.replaceChildren(
    el('label', {}, 'Project ', select('project', projects.map((p) => ({ value: p.id, label: p.name === p.id ? p.id : `${p.name} (${p.id})` })), w.project, (v) => go({ project: v, env: '' }))),
    el('label', {}, 'Environment ', select('env', o.environments.map((e) => ({ value: e, label: e })), w.env, (v) => go({ env: v }))),
    el(
      'span',
      { class: 'ranges', role: 'group' },
      ...RANGES.map((r) => el('button', { type: 'button', class: r === w.range ? 'on' : '', data: { range: r }, onclick: () => go({ range: r }) }, r)),
    ),
  )
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
    try {
      const o = await overview(w)
      w = { ...w, env: o.environment }
      renderSelectors(o)
      if (releaseName === null) {
        document.title = `Vigil — ${o.project} / ${o.environment}`
        main.replaceChildren(releasesView(o, w))
      } else {
        document.title = `Vigil — ${releaseName}`
        try {
          main.replaceChildren(releaseView(await release(releaseName, w), w))
        } catch (err) {
          if (!(err instanceof HttpError && err.status === 404)) throw err
          main.replaceChildren(el('p', { class: 'muted', id: 'not-found' }, `No release ${releaseName} has reported in ${o.project} / ${o.environment}.`), el('a', { href: `/?${query(w)}` }, '← all releases'))
        }
      }
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

subscribe(
  () => void refresh(),
  (up) => {
    live = up
    status.className = up ? 'live' : ''
  },
)
void refresh()
setInterval(refresh, 30_000)
