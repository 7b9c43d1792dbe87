/** The projects and their keys: read and saved by the project registry (projects.ts) only. */
import type { Db } from './connection.js'
import { PROJECTS } from './tables.js'
import type { Project } from './types.js'

/** The project registry's (projects.ts) reads and saves of projects and their keys. */
export type ProjectStore = {
  /** Every project, the newest version of each. */
  projects: () => Promise<Project[]>
  saveProject: (p: Project) => Promise<void>
}

export const createProjectStore = (db: Db): ProjectStore => {
  const projects = async () =>
    db.rows<Project>(
      `SELECT id, name, ingest_key AS ingestKey, origins, previous_key AS previousKey,
        toUnixTimestamp64Milli(previous_key_until) AS previousKeyUntil, rate_limit AS rateLimit, transaction_flows AS transactionFlows,
        upload_token AS uploadToken, toUnixTimestamp64Milli(updated) AS updated
      FROM ${PROJECTS} FINAL ORDER BY id`,
    )

  const saveProject = (p: Project) =>
    db.insert(PROJECTS, [
      {
        id: p.id,
        name: p.name,
        ingest_key: p.ingestKey,
        origins: p.origins,
        previous_key: p.previousKey,
        previous_key_until: p.previousKeyUntil,
        rate_limit: p.rateLimit,
        transaction_flows: p.transactionFlows,
        upload_token: p.uploadToken,
        created: p.updated,
        updated: p.updated,
      },
    ])

  return { projects, saveProject }
}
