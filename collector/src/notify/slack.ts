import { postJson } from './postJson.js'
import type { AlertMessage, Notifier } from './types.js'

/** Where an error alert's error broke, in the original source: `at applyCoupons (src/coupons.js:4:23)`. */
const where = (d: AlertMessage['data']): string => {
  const error = d.rule === 'new_error_group' ? d.top_errors?.find((e) => e.fingerprint === d.subject) : d.rule === 'crash_rate' ? d.top_errors?.[0] : undefined
  const f = error?.frames?.find((x) => x.mapped && x.inApp)
  return f ? `\nWhere: \`at ${f.fn || '<anonymous>'} (${f.file}:${f.line}:${f.col})\`` : ''
}

/** Slack incoming webhook: one readable line and a link to the release's health page. */
export const slackNotifier = (url: string): Notifier => ({
  name: 'slack',
  send: async (msg: AlertMessage, signal: AbortSignal) => {
    const d = msg.data
    const firing = d.status === 'firing'
    const head = firing ? `:red_circle: *Release ${d.release} (${d.environment}) is bad*` : `:large_green_circle: *Resolved: release ${d.release} (${d.environment})*`
    const base = d.baseline?.releases?.length ? ` Baseline: ${d.baseline.kind} (${d.baseline.releases.join(', ')}).` : ''
    const text = `${head}\n${d.summary ?? ''}${base}${firing ? where(d) : ''}${d.dashboard_url ? `\n<${d.dashboard_url}|Open the release health page>` : ''}`
    await postJson('slack', url, JSON.stringify({ text }), signal)
  },
})
