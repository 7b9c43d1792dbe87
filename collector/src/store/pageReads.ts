/**
 * What the dashboard's pages and the read API (readApi.ts, readModels.ts, releaseNumbers.ts) read: release
 * spans, environments, a flow's chart and baselines, and, passed on from the detector's reads and
 * the alert store, the health numbers, error groups, alerts and deliveries they show.
 */
import type { AlertStore } from './alerts.js'
import type { Db } from './connection.js'
import type { DetectorReads } from './detectorReads.js'
import { APPEARED, at, perSession } from './judgingSql.js'
import { RELEASE_MINUTE, SESSION_FLOWS } from './tables.js'
import type { FlowBaselineRow, FlowStep, ReleaseSpan } from './types.js'

/** The pages' and the read API's reads (readModels.ts, releaseNumbers.ts, readApi.ts): their own queries and those they share. */
export type PageReads = Pick<DetectorReads, 'releases' | 'sessionCrashes' | 'flowSessions' | 'errorGroups' | 'vitals'> &
  Pick<AlertStore, 'alerts' | 'deliveries'> & {
    /**
     * Per step (`stepS` seconds, times in epoch seconds), each flow's sessions and failed sessions
     * for `release` (base 0) and for the `baseline` releases pooled (base 1).
     */
    flowSeries: (project: string, env: string, release: string, baseline: string[], from: number, to: number, stepS: number) => Promise<FlowStep[]>
    /**
     * Each target release's baseline per flow: sessions of the `releases` that appeared before it
     * (by `arrived`, epoch ms) active from the target's `since` (its own start in the window) to
     * `to`, pooled, and how many of them failed the flow in that span.
     */
    flowBaselines: (
      project: string,
      env: string,
      targets: { release: string; arrived: number; since: number }[],
      releases: { release: string; arrived: number }[],
      to: number,
    ) => Promise<FlowBaselineRow[]>
    /** When each release of an environment was first and last seen (all time), of those seen since `since`; newest first. */
    releaseSpans: (project: string, env: string, since: number) => Promise<ReleaseSpan[]>
    /** The project's environments, the most recently active first. */
    environments: (project: string) => Promise<string[]>
  }

// From the per-minute rollup: uniq states merge across outcomes, so a session failing and
// succeeding in one step counts once in `sessions` and once in `failed`.
const flowSeries =
  (db: Db) =>
  (project: string, env: string, release: string, baseline: string[], from: number, to: number, stepS: number) =>
    db.rows<FlowStep>(
      `SELECT toUnixTimestamp(toStartOfInterval(m.minute, toIntervalSecond({step:UInt32}))) AS t, m.name AS flow,
        toUInt8(m.release != {release:String}) AS base,
        uniqMerge(m.sessions) AS sessions, uniqMergeIf(m.sessions, m.outcome != 'ok') AS failed
      FROM ${RELEASE_MINUTE} AS m
      WHERE m.project = {project:String} AND m.env = {env:String} AND m.kind = 'flow'
        AND (m.release = {release:String} OR has({baseline:Array(String)}, m.release))
        AND m.minute >= toStartOfInterval(toDateTime(intDiv({from:Int64}, 1000), 'UTC'), toIntervalSecond({step:UInt32}))
        AND m.minute <= toDateTime(intDiv({to:Int64}, 1000), 'UTC')
      GROUP BY t, flow, base
      ORDER BY flow, t, base`,
      { project, env, release, baseline, from, to, step: stepS },
    )

// Per session first (merges are never guaranteed), then crossed with the targets: a session
// counts for a target when its release arrived before it and it was active after the target appeared.
const flowBaselines =
  (db: Db) =>
  async (
    project: string,
    env: string,
    targets: { release: string; arrived: number; since: number }[],
    releases: { release: string; arrived: number }[],
    to: number,
  ) => {
    if (targets.length === 0) return []
    return db.rows<FlowBaselineRow>(
      `SELECT {names:Array(String)}[i] AS target, s.flow AS flow, count() AS sessions,
        countIf(s.lf >= fromUnixTimestamp64Milli({starts:Array(Int64)}[i], 'UTC')) AS failed,
        groupUniqArray(5)(s.release) AS releases, uniqExact(s.release) AS release_count
      FROM (${perSession(
        SESSION_FLOWS,
        'release, flow',
        'max(last_ts) AS l, max(last_failure) AS lf, {firsts:Array(Int64)}[indexOf({all:Array(String)}, release)] AS rf',
        'env = {env:String} AND has({all:Array(String)}, release)',
        'since',
      )}) AS s
      ARRAY JOIN arrayEnumerate({names:Array(String)}) AS i
      WHERE s.rf < {targetFirsts:Array(Int64)}[i] AND s.l >= fromUnixTimestamp64Milli({starts:Array(Int64)}[i], 'UTC')
      GROUP BY target, flow`,
      {
        project,
        env,
        since: Math.min(...targets.map((t) => t.since)),
        to,
        names: targets.map((t) => t.release),
        targetFirsts: targets.map((t) => t.arrived),
        starts: targets.map((t) => t.since),
        all: releases.map((r) => r.release),
        firsts: releases.map((r) => r.arrived),
      },
    )
  }

// No session counting here (uniqMerge over all time is what makes releases() slow).
const releaseSpans =
  (db: Db) =>
  (project: string, env: string, since: number) =>
    db.rows<ReleaseSpan>(
      `SELECT m.release AS release, ${APPEARED}, toUnixTimestamp64Milli(max(m.last_ts)) AS lastSeen
      FROM ${RELEASE_MINUTE} AS m
      WHERE m.project = {project:String} AND m.env = {env:String}
      GROUP BY m.release
      HAVING max(m.last_ts) >= ${at('since')}
      ORDER BY arrived DESC, release DESC`,
      { project, env, since },
    )

const environments =
  (db: Db) =>
  async (project: string) =>
    (
      await db.rows<{ env: string }>(
        `SELECT m.env AS env FROM ${RELEASE_MINUTE} AS m WHERE m.project = {project:String} GROUP BY m.env ORDER BY max(m.last_ts) DESC`,
        { project },
      )
    ).map((r) => r.env)

export const createPageReads = (db: Db, shared: { detector: DetectorReads; alerts: AlertStore }): PageReads => {
  const { releases, sessionCrashes, flowSessions, errorGroups, vitals } = shared.detector
  const { alerts, deliveries } = shared.alerts
  return {
    flowSeries: flowSeries(db),
    flowBaselines: flowBaselines(db),
    releaseSpans: releaseSpans(db),
    environments: environments(db),
    releases,
    sessionCrashes,
    flowSessions,
    errorGroups,
    vitals,
    alerts,
    deliveries,
  }
}
