import type { Vigil } from './vigil.js'

/** What a newcomer needs after `npm start`: where the dashboard is and the one line to paste. */
export const banner = (v: Vigil, requestedHost = v.config.host): string => {
  const url = v.publicUrl()
  const storage =
    v.store.mode === 'embedded'
      ? `embedded ClickHouse (chDB) in ${v.config.dataDir}`
      : `ClickHouse server ${v.config.clickhouse?.url} (database ${v.config.clickhouse?.database})`
  const key = v.defaultProject.ingestKey
  const dsn = URL.canParse(url) ? `${new URL(url).protocol}//${key}@${new URL(url).host}/1` : `http://${key}@…/1`
  const tag = `<script async src="${url}/vigil.js" data-key="${v.defaultProject.ingestKey}" data-release="1.0.0" data-env="production"></script>`
  return [
    '',
    `  Vigil collector listening on ${url}`,
    '',
    `  dashboard   ${url}/`,
    `  ingest      POST ${url}/v1/ingest`,
    `  storage     ${storage}`,
    `  alerts      ${v.notifiers.length ? v.notifiers.map((n) => n.name).join(', ') : 'no notifier (set VIGIL_WEBHOOK_URL, VIGIL_SLACK_WEBHOOK_URL, VIGIL_PAGERDUTY_ROUTING_KEY or VIGIL_ALERTMANAGER_WEBHOOK_URL)'}`,
    `  access      ${
      v.config.adminToken
        ? 'the dashboard and its APIs need VIGIL_ADMIN_TOKEN (log in at /login)'
        : `no VIGIL_ADMIN_TOKEN: the dashboard is open, so the collector listens on ${v.config.host} only${requestedHost !== v.config.host ? ` (not ${requestedHost}: set VIGIL_ADMIN_TOKEN for that)` : ''}`
    }`,
    '',
    '  Paste into your page (set data-release to the version you deploy):',
    '',
    `  ${tag}`,
    '',
    '  Readable stacks from a minified build: after each build, upload its source maps',
    `  (the project's upload token: npx vigil project list):`,
    '',
    `  VIGIL_URL=${url} VIGIL_UPLOAD_TOKEN=vglu_… npx vigil sourcemaps upload --release 1.0.0 dist/`,
    '',
    '  Already running Sentry or OpenTelemetry? Change only where they send:',
    '',
    `  Sentry DSN     ${dsn}`,
    `  OTLP http/json ${url}/v1/traces and ${url}/v1/logs, header x-vigil-key: ${key}`,
    '',
  ].join('\n')
}
