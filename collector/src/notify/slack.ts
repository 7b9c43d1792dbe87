import type { AlertMessage, Notifier } from './types.js'

type Data = { status?: string; summary?: string; release?: string; environment?: string; dashboard_url?: string; baseline?: { kind?: string; releases?: string[] } }

/** Slack incoming webhook: one readable line and a link to the release's health page. */
export const slackNotifier = (url: string): Notifier => ({
  name: 'slack',
  send: async (msg: AlertMessage) => {
    const d = msg.data as Data
    const firing = d.status === 'firing'
    const head = firing ? `:red_circle: *Release ${d.release} (${d.environment}) is bad*` : `:large_green_circle: *Resolved: release ${d.release} (${d.environment})*`
    const base = d.baseline?.releases?.length ? ` Baseline: ${d.baseline.kind} (${d.baseline.releases.join(', ')}).` : ''
    const text = `${head}\n${d.summary ?? ''}${base}${d.dashboard_url ? `\n<${d.dashboard_url}|Open the release health page>` : ''}`
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text }), signal: AbortSignal.timeout(10_000) })
    if (!res.ok) throw new Error(`slack answered ${res.status}`)
  },
})
