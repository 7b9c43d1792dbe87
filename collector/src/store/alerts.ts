/**
 * Alerts and their deliveries: the detector keeps its alerts here (alerts, saveAlert), the
 * notifiers' outbox its deliveries (notify/outbox.ts), and the pages read both (PageReads).
 */
import type { Db } from './connection.js'
import { ALERTS, DELIVERIES } from './tables.js'
import type { AlertRow, Delivery } from './types.js'

/** Alerts (the detector's) and their deliveries (the outbox's); the pages read both through PageReads. */
export type AlertStore = {
  /** Every alert, or a project's, the newest version of each, the first fired first. */
  alerts: (project?: string) => Promise<AlertRow[]>
  saveAlert: (a: AlertRow) => Promise<void>
  saveDelivery: (d: Delivery) => Promise<void>
  /** What one notifier may send now: each alert's oldest pending delivery to it (an alert's messages go in order), when due at `now`; the longest due first. */
  dueDeliveries: (notifier: string, now: number) => Promise<Delivery[]>
  /** Pending deliveries to notifiers not among `notifiers` (no longer configured). */
  strandedDeliveries: (notifiers: string[]) => Promise<Delivery[]>
  /** A project's deliveries, or those of one alert or of several (dedup keys). */
  deliveries: (project: string, alert?: string | string[]) => Promise<Delivery[]>
}

export const createAlertStore = (db: Db): AlertStore => {
  const alerts = async (project?: string) =>
    db.rows<AlertRow>(
      `SELECT project, dedup_key, env, release, rule, subject, status,
        toUnixTimestamp64Milli(fired_at) AS fired_at,
        if(isNull(resolved_at), NULL, toUnixTimestamp64Milli(assumeNotNull(resolved_at))) AS resolved_at,
        notified, payload, toUnixTimestamp64Milli(updated) AS updated, episode, cohort
      FROM ${ALERTS} FINAL
      WHERE {project:String} = '' OR project = {project:String}
      ORDER BY fired_at`,
      { project: project ?? '' },
    )

  const saveAlert = (a: AlertRow) => db.insert(ALERTS, [a])

  const saveDelivery = (d: Delivery) => db.insert(DELIVERIES, [d])

  // Qualified names: the millisecond aliases must not shadow the columns in WHERE and ORDER BY.
  const deliveryColumns = `d.id AS id, d.alert AS alert, d.project AS project, d.notifier AS notifier, d.type AS type, d.message AS message,
        d.status AS status, d.attempts AS attempts, toUnixTimestamp64Milli(d.next_at) AS next_at, d.last_error AS last_error,
        toUnixTimestamp64Milli(d.created) AS created, toUnixTimestamp64Milli(d.updated) AS updated`

  const dueDeliveries = (notifier: string, now: number) =>
    db.rows<Delivery>(
      `SELECT * FROM (
        SELECT ${deliveryColumns} FROM ${DELIVERIES} AS d FINAL
        WHERE d.notifier = {notifier:String} AND d.status = 'pending'
        ORDER BY d.created, d.id LIMIT 1 BY d.alert
      ) WHERE next_at <= {now:Int64}
      ORDER BY next_at LIMIT 100`,
      { notifier, now },
    )

  const strandedDeliveries = (notifiers: string[]) =>
    db.rows<Delivery>(
      `SELECT ${deliveryColumns} FROM ${DELIVERIES} AS d FINAL
      WHERE d.status = 'pending' AND NOT has({notifiers:Array(String)}, d.notifier)
      ORDER BY d.created`,
      { notifiers },
    )

  const deliveries = (project: string, alert?: string | string[]) =>
    db.rows<Delivery>(
      `SELECT ${deliveryColumns} FROM ${DELIVERIES} AS d FINAL
      WHERE d.project = {project:String} AND (empty({alerts:Array(String)}) OR has({alerts:Array(String)}, d.alert))
      ORDER BY d.created`,
      { project, alerts: alert === undefined ? [] : typeof alert === 'string' ? [alert] : alert },
    )

  return { alerts, saveAlert, saveDelivery, dueDeliveries, strandedDeliveries, deliveries }
}
