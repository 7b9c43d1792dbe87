import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Config } from '../config.js'
import type { Core } from '../core.js'
import { createDetector, type Detector, type DetectorOptions } from '../detector/index.js'
import { defaultRuleOptions } from '../detector/rules.js'
import { liveFeed, type LiveFeed } from '../live.js'
import { alertmanagerNotifier } from '../notify/alertmanager.js'
import { createOutbox, type Outbox, type OutboxOptions } from '../notify/outbox.js'
import { pagerDutyNotifier } from '../notify/pagerduty.js'
import { slackNotifier } from '../notify/slack.js'
import type { Notifier } from '../notify/types.js'
import { webhookNotifier } from '../notify/webhook.js'
import type { Delivery } from '../store/types.js'

export type AlertingOptions = { detector?: Partial<DetectorOptions>; outbox?: Partial<OutboxOptions> }

/** The detector, what it tells (notifiers, through the outbox), and the dashboard's live feed. */
export type Alerting = { notifiers: Notifier[]; live: LiveFeed; outbox: Outbox; detector: Detector }

/** A notifier for each one configured. */
const notifiersOf = (config: Config, publicUrl: () => string): Notifier[] => [
  ...(config.webhookUrl ? [webhookNotifier(config.webhookUrl, config.webhookSecret)] : []),
  ...(config.slackWebhookUrl ? [slackNotifier(config.slackWebhookUrl)] : []),
  ...(config.pagerdutyRoutingKey ? [pagerDutyNotifier(config.pagerdutyRoutingKey, config.pagerdutyUrl)] : []),
  ...(config.alertmanagerUrl ? [alertmanagerNotifier(config.alertmanagerUrl, publicUrl)] : []),
]

type DetectorParts = { core: Core; outbox: Outbox; live: Alerting['live']; log: FastifyBaseLogger; options?: Partial<DetectorOptions> }

const detectorOf = ({ core, outbox, live, log, options }: DetectorParts) => {
  const { config, store, projects, metrics, publicUrl, symbolicate } = core
  return createDetector(
    {
      store: store.detector,
      alertStore: store.alerts,
      outbox,
      projectIds: () => projects.ids(),
      publicUrl,
      log,
      onLook: (at) => live.publish({ type: 'look', at: new Date(at).toISOString() }),
      onLookDone: (ok, seconds) => {
        metrics.lookSeconds.observe({ result: ok ? 'done' : 'failed' }, seconds)
        metrics.looks.inc({ result: ok ? 'done' : 'failed' })
      },
      onAlert: (a, summary) =>
        live.publish({ type: 'alert', status: a.status, project: a.project, environment: a.env, release: a.release, summary, at: new Date(a.updated).toISOString() }),
      symbolicate,
      onSkipped: (n) => metrics.releasesSkipped.inc(n),
    },
    {
      intervalMs: config.evalIntervalMs,
      rules: { ...defaultRuleOptions, flowThresholds: config.flowThresholds },
      // What intake lets a project bring in an hour, the detector judges in one look.
      ...(config.limits.releases > 0 ? { maxReleasesPerEnvironment: config.limits.releases } : {}),
      ...(config.limits.environments > 0 ? { maxEnvironments: config.limits.environments } : {}),
      ...options,
    },
  )
}

/**
 * Alerting's parts, created before the plugins are registered: the read API shows the detector's
 * lag and verdicts, /healthz its lag, the admin routes send test alerts through the notifiers.
 * Every look, alert change and delivery attempt is told to the live feed.
 */
export const createAlerting = (app: FastifyInstance, core: Core, options: AlertingOptions = {}): Alerting => {
  const { config, store, metrics, guard, publicUrl } = core
  const notifiers = notifiersOf(config, publicUrl)
  const live = liveFeed(app, config, guard)
  const onAttempt = (d: Delivery) =>
    live.publish({ type: 'delivery', project: d.project, alert: d.alert, notifier: d.notifier, status: d.status, at: new Date(d.updated).toISOString() })
  const outbox = createOutbox({ store: store.alerts, notifiers, metrics, log: app.log, onAttempt }, options.outbox)
  const detector = detectorOf({ core, outbox, live, log: app.log, options: options.detector })
  return { notifiers, live, outbox, detector }
}

/**
 * `GET /v1/live` for the dashboard, and the outbox and the detector running while the app is
 * ready. The detector starts after the outbox it writes to and stops before it (onClose hooks
 * run last-registered first).
 */
export const alertingPlugin = (alerting: Alerting, core: Pick<Core, 'upgrades' | 'metrics'>) => async (app: FastifyInstance) => {
  const { live, outbox, detector } = alerting
  core.upgrades.add('/v1/live', live.upgrade)
  core.metrics.watch({ lookLag: () => detector.lag().sinceLastLook / 1000, lastLook: () => detector.lag().lastLookAt / 1000 })
  app.addHook('onReady', async () => outbox.start())
  app.addHook('onClose', async () => outbox.stop())
  app.addHook('onReady', async () => detector.start())
  app.addHook('onClose', async () => detector.stop())
}
