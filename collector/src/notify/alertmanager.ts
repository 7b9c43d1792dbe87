import { createHash } from 'node:crypto'
import { postJson } from './postJson.js'
import type { AlertMessage, Notifier } from './types.js'

const NEVER = '0001-01-01T00:00:00Z'

/**
 * The body Alertmanager sends to webhook receivers (version 4): teams that route alerts through
 * Alertmanager or Grafana OnCall point this at their receiver.
 */
export const alertmanagerNotifier = (url: string, externalUrl: () => string): Notifier => ({
  name: 'alertmanager',
  send: async (msg: AlertMessage, signal: AbortSignal) => {
    const d = msg.data
    const labels = {
      alertname: 'VigilReleaseRegression',
      project: d.project,
      environment: d.environment,
      release: d.release,
      rule: d.rule,
      ...(d.subject ? { subject: d.subject } : {}),
      // A feature flag's cohort: routed and silenced apart from its release's own alerts.
      ...(d.flag !== undefined ? { flag: d.flag, variant: d.variant ?? '' } : {}),
      severity: d.severity,
    }
    const annotations = { summary: d.summary, ...(d.dashboard_url ? { dashboard: d.dashboard_url } : {}) }
    const status = d.status === 'firing' ? 'firing' : 'resolved'
    const body = {
      version: '4',
      groupKey: `{}:{alertname="VigilReleaseRegression", release="${d.release}"}`,
      truncatedAlerts: 0,
      status,
      receiver: 'vigil',
      groupLabels: { alertname: labels.alertname, release: d.release },
      commonLabels: labels,
      commonAnnotations: annotations,
      externalURL: externalUrl(),
      alerts: [
        {
          status,
          labels,
          annotations,
          startsAt: d.fired_at ?? new Date(msg.at).toISOString(),
          endsAt: status === 'resolved' ? (d.resolved_at ?? new Date(msg.at).toISOString()) : NEVER,
          generatorURL: d.dashboard_url ?? externalUrl(),
          fingerprint: createHash('sha256').update(d.alert_id).digest('hex').slice(0, 16),
        },
      ],
    }
    await postJson('alertmanager receiver', url, JSON.stringify(body), signal)
  },
})
