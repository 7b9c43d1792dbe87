/**
 * Alerts kept: stored, so a restart neither loses nor re-sends them, and each change handed to the
 * notifiers' outbox once.
 */
import { createHash } from 'node:crypto'
import type { OriginalFrame } from '../grouping/symbolicate.js'
import type { Outbox } from '../notify/outbox.js'
import type { AlertMessage } from '../notify/types.js'
import type { Affected, AffectedQuestion, AlertRow, AlertStore } from '../store/index.js'
import { alertSummary, firingPayload, parsePayload, resolvedPayload, TOP_ERRORS, topError } from './payload.js'
import { cohortKey, type Cohort } from './cohorts.js'
import type { Finding, WindowData } from './rules.js'

/** Frames an alert carries per error: enough to see where, not a whole stack trace. */
const ALERT_FRAMES = 10

export type AlertDeps = {
  store: Pick<AlertStore, 'alerts' | 'saveAlert'>
  outbox: Outbox
  publicUrl: () => string
  log: { info: (msg: string) => void; warn: (obj: unknown, msg: string) => void }
  clock: () => number
  onAlert?: (a: AlertRow, summary: string) => void
  symbolicate?: (project: string, release: string, stack: string) => Promise<OriginalFrame[]>
  /** Who is affected: where the finding's failed sessions concentrate (store/segmentReads.ts). */
  affected?: (q: AffectedQuestion) => Promise<Affected | null>
}

/**
 * The message about an alert's current state. Its id comes from the data alone — the alert's key,
 * which firing of it this is, and the state — so two detectors on one store (high availability)
 * name the same message alike and the outbox and receivers keep one. Alerts stored before
 * episodes were counted keep the ids they had (by when they fired).
 */
export const messageId = (a: Pick<AlertRow, 'dedup_key' | 'episode' | 'fired_at' | 'status'>): string =>
  `msg_${createHash('sha256').update(a.dedup_key).digest('hex').slice(0, 20)}_${a.episode ? `e${a.episode}` : a.fired_at}_${a.status}`

const messageFor = (a: AlertRow): AlertMessage => ({
  id: messageId(a),
  type: `release.regression.${a.status}`,
  at: a.status === 'firing' ? a.fired_at : (a.resolved_at ?? a.updated),
  data: parsePayload(a),
})

/** The original frames of a stack, or none when they cannot be had now (storage away): the minified stack still goes. */
const framesOf = async (deps: AlertDeps, p: { project: string; release: string; stack: string }): Promise<OriginalFrame[]> => {
  try {
    return ((await deps.symbolicate?.(p.project, p.release, p.stack)) ?? []).slice(0, ALERT_FRAMES)
  } catch (err) {
    deps.log.warn({ err }, 'alert: stack not symbolicated')
    return []
  }
}

/** Who is affected, or nothing of it when it cannot be had now (storage away): the alert still goes. */
const affectedOf = async (deps: AlertDeps, q: AffectedQuestion): Promise<Affected | null> => {
  try {
    return (await deps.affected?.(q)) ?? null
  } catch (err) {
    deps.log.warn({ err }, 'alert: who is affected not read')
    return null
  }
}

/** The releases' alerts by dedup key (`alerts`), loaded from the store, and how they change. */
export const alertWriter = (deps: AlertDeps, alerts: Map<string, AlertRow>) => {
  let loaded = false

  /** Hands the alert's current state to the outbox, once. */
  const announce = async (a: AlertRow) => {
    // The outbox skips deliveries it already has: a restart writes no message twice.
    await deps.outbox.enqueue(messageFor(a), a.dedup_key, a.project)
    a.notified = 1
    a.updated = deps.clock()
    await deps.store.saveAlert(a)
  }

  const save = async (a: AlertRow) => {
    alerts.set(a.dedup_key, a)
    await deps.store.saveAlert(a)
    await announce(a)
    deps.onAlert?.(a, alertSummary(a))
  }

  /** An alert fires on a finding about a release, or about a cohort of it (`cur` and `older`: the cohort's, its variants). */
  const fire = async (p: { project: string; env: string; release: string; cohort?: Cohort | undefined; finding: Finding; cur: WindowData; older: ReadonlySet<string>; now: number }) => {
    const { project, env, release, cohort, finding: f, now } = p
    const topErrors = await Promise.all(
      p.cur.groups
        .filter((g) => g.release === (cohort?.variant ?? release))
        .slice(0, TOP_ERRORS)
        .map(async (g) => topError(g, await framesOf(deps, { project, release, stack: g.stack }), p.older)),
    )
    const affected = await affectedOf(deps, { project, env, release, rule: f.rule, subject: f.subject, from: p.cur.from, to: now, ...cohort })
    const data = firingPayload({ ...p, topErrors, affected, publicUrl: deps.publicUrl() })
    const key = data.alert_id
    const episode = (alerts.get(key)?.episode ?? 0) + 1
    const row: AlertRow = {
      project,
      dedup_key: key,
      env,
      release,
      rule: f.rule,
      subject: f.subject,
      status: 'firing',
      fired_at: now,
      resolved_at: null,
      notified: 0,
      payload: JSON.stringify(data),
      updated: now,
      episode,
      cohort: cohort ? cohortKey(cohort) : '',
    }
    deps.log.info(`alert firing: ${data.summary}`)
    await save(row)
  }

  const resolve = async (a: AlertRow, reason: string, now: number) => {
    const data = resolvedPayload(parsePayload(a), now, reason)
    deps.log.info(`alert resolved (${reason}): ${String(data.summary)}`)
    await save({ ...a, status: 'resolved', resolved_at: now, notified: 0, payload: JSON.stringify(data), updated: now })
  }

  /** Reads the stored alerts, the first time. */
  const load = async () => {
    if (loaded) return
    for (const a of await deps.store.alerts()) alerts.set(a.dedup_key, a)
    // Alerts whose messages were not handed to the outbox before a stop: hand them now.
    for (const a of alerts.values()) if (!a.notified) await announce(a)
    loaded = true
  }

  /**
   * The projects' alerts as stored now (one read for all): what another detector on the same
   * store fired or resolved since (high availability) is taken, the newer version of each
   * winning, so this one neither fires it again nor counts its episodes otherwise.
   */
  const refresh = async (projects: string[]) => {
    const looked = new Set(projects)
    for (const a of await deps.store.alerts()) {
      if (!looked.has(a.project)) continue
      const mine = alerts.get(a.dedup_key)
      if (!mine || a.updated > mine.updated) alerts.set(a.dedup_key, a)
    }
  }

  return { load, refresh, fire, resolve }
}
export type AlertWriter = ReturnType<typeof alertWriter>
