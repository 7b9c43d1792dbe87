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
    // A feature flag's cohort is what is bad, not its release.
    const what = d.flag !== undefined ? `flag ${d.flag}=${d.variant ?? ''} on release ${d.release}` : `release ${d.release}`
    const head = firing ? `:red_circle: *${what.replace(/^./, (c) => c.toUpperCase())} (${d.environment}) is bad*` : `:large_green_circle: *Resolved: ${what} (${d.environment})*`
    const base = d.baseline?.releases?.length ? ` Baseline: ${d.baseline.kind} (${d.baseline.releases.join(', ')}).` : ''
    const text = `${head}\n${d.summary ?? ''}${base}${firing ? where(d) : ''}${d.dashboard_url ? `\n<${d.dashboard_url}|Open the release health page>` : ''}`
    await postJson('slack', url, JSON.stringify({ text }), signal)
  },
})
