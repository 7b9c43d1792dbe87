/**
 * A first health page: the releases with their counts, the detector's verdict and the alerts
 * firing for them, refreshed when the live feed says something changed (and every 30 s
 * regardless). Everything agents sent is put in the page as text, never as HTML.
 */
type Release = {
  env: string
  release: string
  firstSeen: number
  sessions: number
  events: number
  errors: number
  flows: number
  flowFailures: number
  verdict: 'healthy' | 'watching' | 'bad' | 'unknown'
}
type Alert = { env: string; release: string; subject: string; status: string }

const cell = (text: string, cls?: string): HTMLTableCellElement => {
  const td = document.createElement('td')
  td.textContent = text
  if (cls) td.className = cls
  return td
}

const render = (releases: Release[], alerts: Alert[]) => {
  const body = document.querySelector('#releases tbody')!
  const rows = releases.map((r) => {
    const tr = document.createElement('tr')
    const firing = alerts.filter((a) => a.status === 'firing' && a.release === r.release && a.env === r.env)
    tr.append(
      cell(r.release || '(no release)'),
      cell(r.env),
      cell(new Date(r.firstSeen).toLocaleString()),
      cell(String(r.sessions), 'n'),
      cell(String(r.events), 'n'),
      cell(String(r.errors), 'n'),
      cell(String(r.flows), 'n'),
      cell(String(r.flowFailures), 'n'),
    )
    const badge = document.createElement('span')
    badge.className = `badge ${r.verdict}`
    badge.textContent = r.verdict
    const td = document.createElement('td')
    td.append(badge)
    if (firing.length) td.append(` ${firing.map((a) => a.subject || 'crash rate').join(', ')}`)
    tr.append(td)
    return tr
  })
  body.replaceChildren(...rows)
  document.getElementById('empty')!.hidden = releases.length > 0
}

const refresh = async () => {
  const status = document.getElementById('status')!
  try {
    const [r, a] = await Promise.all([fetch('/v1/releases'), fetch('/v1/alerts')])
    const { releases } = (await r.json()) as { releases: Release[] }
    const { alerts } = (await a.json()) as { alerts: Alert[] }
    render(releases, alerts)
    status.textContent = `updated ${new Date().toLocaleTimeString()}`
  } catch {
    status.textContent = 'collector unreachable, retrying…'
  }
}

// The live feed: a message after every look of the detector and at every alert change. When it
// drops, it is opened again after a pause that grows up to 30 s.
let retry = 1000
const connect = () => {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/live`)
  ws.onopen = () => {
    retry = 1000
  }
  ws.onmessage = () => void refresh()
  ws.onclose = () => {
    setTimeout(connect, retry)
    retry = Math.min(retry * 2, 30_000)
  }
}

void refresh()
connect()
setInterval(refresh, 30_000)
