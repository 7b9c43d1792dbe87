/** The rows the store reads and writes, as its callers see them. */
import type { GroupHistory } from './groupHistory.js'
import type { FlowKind, Kind } from './tables.js'

/** One stored event, column for column. Times are epoch milliseconds. */
export type EventRow = {
  project: string
  env: string
  release: string
  kind: Kind
  ts: number
  received: number
  session: string
  batch: string
  name: string
  outcome: string
  value: number
  reason: string
  step: string
  message: string
  stack: string
  handled: 0 | 1
  fingerprint: string
  /** The group as the stack gives it (read only: stored as `fingerprint` unless source maps regrouped the error). */
  stack_fingerprint?: string
  url: string
  /** The URL's path with ids and tokens replaced: `/users/:id/orders`. */
  route: string
  user_agent: string
  browser: string
  os: string
  device: string
  /** The client's network, as a salted hash ('' for a client on the collector's machine): ingest/network.ts. */
  net: string
}

/**
 * The columns of an events row in the order the spool writes them (TabSeparated: ClickHouse
 * reads it ~40% faster than JSONEachRow, and it is ~40% smaller on disk).
 */
export const ROW_COLUMNS = [
  'project', 'env', 'release', 'kind', 'ts', 'received', 'session', 'batch', 'name', 'outcome', 'value', 'reason', 'step',
  'message', 'stack', 'handled', 'fingerprint', 'url', 'route', 'user_agent', 'browser', 'os', 'device', 'net',
] as const satisfies readonly (keyof EventRow)[]

export type Project = {
  id: string
  name: string
  ingestKey: string
  /** Page origins allowed to send (`https://app.example`, `https://*.example.com`); empty: any. */
  origins: string[]
  /** The key before the last rotation, still accepted until `previousKeyUntil` (epoch ms). */
  previousKey: string
  previousKeyUntil: number
  /** Events per second per key; 0: the collector's default. */
  rateLimit: number
  /**
   * Sentry transactions and OpenTelemetry root spans taken as flows: a transaction's (span's) name,
   * or its op, to the flow's name (`{ "pageload": "page-load", "checkout": "checkout" }`).
   */
  transactionFlows: Record<string, string>
  /** Proves an upload of source maps for this project (secret, unlike the ingest key); '' when none was made. */
  uploadToken: string
  /** Epoch ms of the last change: the newest version of a project wins. */
  updated: number
}

/** A source map as stored: for one minified file (its URL path) of one release. */
export type SourceMapRow = { project: string; release: string; path: string; debug_id: string; map: string; bytes: number; sources: number; uploaded: number }

export type ReleaseSummary = {
  env: string
  release: string
  /**
   * When the collector first received an event of it (epoch ms): what orders releases. Client
   * clocks can be anything; one backdated event must not make a new release "older".
   */
  arrived: number
  /** When it appeared, for its windows: its first event's time, at most APPEARED_BEFORE_ARRIVAL_MS before `arrived`. */
  firstSeen: number
  lastSeen: number
  events: number
  sessions: number
  errors: number
  flows: number
  flowFailures: number
}

/** A release of one of several projects (DetectorReads.projectReleases). */
export type ProjectRelease = ReleaseSummary & { project: string }

/** A release's span in an environment: when it arrived and appeared (as ReleaseSummary), when last seen. */
export type ReleaseSpan = Pick<ReleaseSummary, 'release' | 'arrived' | 'firstSeen' | 'lastSeen'>

/** How long before the collector first received a release its events may say it appeared (offline queues). */
export const APPEARED_BEFORE_ARRIVAL_MS = 6 * 3600_000

/**
 * What the detector judges, besides the plain counts: each client network weighs at most
 * SESSIONS_PER_NETWORK sessions, its failures in proportion (its rate kept, its weight bounded);
 * how many networks the failures came from; and what the VIGIL_MIN_FAILING_NETWORKS − 1 networks
 * with the most failures bring beyond one session each (`topFailed`, `topSessions`), which the
 * rules take away before calling a release bad: those few networks, whoever they are, count as
 * one user each and cannot make it bad. A session with no network (this machine, or stored
 * before networks were) is a network of its own.
 */
export type Judged = { judgedSessions: number; judgedFailed: number; failedNetworks: number; topFailed: number; topSessions: number }
/** Sessions active in a window, per release: how many, and how many crashed (an unhandled error) in it. */
export type SessionCrashes = { env: string; release: string; sessions: number; crashed: number } & Judged
/**
 * Sessions that ran a flow (or called an endpoint: `kind` request) in a window, per release, and how
 * many of them failed it at least once in it; its runs (calls) and failures.
 */
export type FlowSessions = { env: string; release: string; flow: string; kind: FlowKind; sessions: number; failed: number; attempts: number; failures: number } & Judged

/** The most sessions one client network weighs in what the detector judges (Judged). */
export const SESSIONS_PER_NETWORK = 20
/** An error group in a release: sessions affected in the window, and every release the group was seen in (groupHistory). */
export type ErrorGroup = GroupHistory & {
  env: string
  release: string
  fingerprint: string
  sessions: number
  events: number
  type: string
  message: string
  stack: string
  handled: 0 | 1
  /**
   * Sessions with it, each network's weighed as its sessions in the release are (Judged), and how
   * many networks; `topFailed` and `topSessions`: what its networks with the most bring beyond
   * one session each (Judged).
   */
  judgedSessions: number
  networks: number
  topFailed: number
  topSessions: number
}
/** A release's samples of a vital, and how many are above a threshold; judged as failures are (Judged). */
export type VitalAbove = { above: number; samples: number } & Judged
export type VitalStat = { env: string; release: string; name: string; p75: number; samples: number }
export type FlowBaselineRow = { target: string; kind: FlowKind; flow: string; sessions: number; failed: number; releases: string[]; release_count: number }
/** One step of one flow: sessions that ran it in the step, and how many of them failed it there; `base` marks the baseline's releases pooled. */
export type FlowStep = { t: number; flow: string; base: 0 | 1; sessions: number; failed: number }

/** One notifier's delivery of one message, with its attempts so far. */
export type Delivery = {
  id: string
  alert: string
  project: string
  notifier: string
  type: string
  message: string
  status: 'pending' | 'delivered' | 'failed'
  attempts: number
  next_at: number
  last_error: string
  created: number
  updated: number
}

export type AlertRow = {
  project: string
  dedup_key: string
  env: string
  release: string
  rule: string
  subject: string
  status: 'firing' | 'resolved'
  fired_at: number
  resolved_at: number | null
  notified: 0 | 1
  payload: string
  updated: number
  /**
   * How many times this alert has fired, this firing included (0: stored before episodes were
   * counted). Every detector counts alike from the same stored alerts, so the messages of one
   * firing have the same id whichever detector sends them.
   */
  episode?: number
  /** The feature-flag cohort it is about (detector/cohorts.ts's cohortKey: flag and variant), '' for the whole release (and alerts stored before cohorts). */
  cohort?: string
}
