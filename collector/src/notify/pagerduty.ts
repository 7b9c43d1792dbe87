import { postJson } from './postJson.js'
import type { AlertMessage, Notifier } from './types.js'

export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue'

/**
 * PagerDuty Events API v2: `trigger` when an alert fires, `resolve` when it resolves, with the
 * alert's stable key as `dedup_key` so PagerDuty keeps one incident per alert.
 */
export const pagerDutyNotifier = (routingKey: string, url = PAGERDUTY_EVENTS_URL): Notifier => ({
  name: 'pagerduty',
  send: async (msg: AlertMessage, signal: AbortSignal) => {
    const d = msg.data
    const body =
      d.status === 'firing'
        ? {
            routing_key: routingKey,
            event_action: 'trigger',
            dedup_key: d.alert_id,
            payload: {
              summary: d.summary.slice(0, 1024),
              source: `vigil/${d.project}/${d.environment}`,
              severity: d.severity,
              timestamp: d.fired_at,
              component: d.release,
              group: d.environment,
              class: d.rule,
              custom_details: msg.data,
            },
            links: d.dashboard_url ? [{ href: d.dashboard_url, text: 'Release health' }] : [],
            client: 'Vigil',
            ...(d.dashboard_url ? { client_url: d.dashboard_url } : {}),
          }
        : { routing_key: routingKey, event_action: 'resolve', dedup_key: d.alert_id }
    await postJson('pagerduty', url, JSON.stringify(body), signal)
  },
})
