/** The clients a release's data came through (the agent, Sentry's SDKs, OpenTelemetry), for its page. */
import type { Db } from './connection.js'
import { at } from './judgingSql.js'
import { RELEASE_CLIENTS } from './tables.js'

export type ClientShare = { client: 'vigil' | 'sentry' | 'otlp'; events: number; sessions: number }

const releaseClients =
  (db: Db) =>
  (q: { project: string; env: string; release: string; from: number; to: number }): Promise<ClientShare[]> =>
    db.rows<ClientShare>(
      `SELECT client, sum(events) AS events, uniqMerge(sessions) AS sessions FROM ${RELEASE_CLIENTS}
      WHERE project = {project:String} AND env = {env:String} AND release = {release:String}
        AND hour >= toStartOfHour(${at('from')}) AND hour <= ${at('to')}
      GROUP BY client ORDER BY events DESC`,
      q,
    )

export const clientReads = (db: Db) => ({ releaseClients: releaseClients(db) })
