import type { Vigil } from './app.js'

/** What a newcomer needs after `npm start`: where the dashboard is and the one line to paste. */
export const banner = (v: Vigil): string => {
  const url = v.publicUrl()
  const storage =
    v.store.mode === 'embedded'
      ? `embedded ClickHouse (chDB) in ${v.config.dataDir}`
      : `ClickHouse server ${v.config.clickhouse?.url} (database ${v.config.clickhouse?.database})`
  const tag = `<script async src="${url}/vigil.js" data-key="${v.defaultProject.ingestKey}" data-release="1.0.0" data-env="production"></script>`
  return [
    '',
    `  Vigil collector listening on ${url}`,
    '',
    `  dashboard   ${url}/`,
    `  ingest      POST ${url}/v1/ingest`,
    `  storage     ${storage}`,
    `  alerts      ${v.config.webhookUrl ? `POST ${v.config.webhookUrl}` : 'no webhook (set VIGIL_WEBHOOK_URL)'}`,
    '',
    '  Paste into your page (set data-release to the version you deploy):',
    '',
    `  ${tag}`,
    '',
  ].join('\n')
}
