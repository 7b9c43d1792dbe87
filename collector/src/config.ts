import { resolve } from 'node:path'
import { trustProxy } from './ingest/network.js'
import { hostName } from './lib/hostName.js'
import type { CardinalityLimits } from './ingest/cardinality.js'

/** Everything the collector can be told, with its environment variable. */
export type Config = {
  /** VIGIL_HOST, default 127.0.0.1 */
  host: string
  /** VIGIL_PORT, default 8080; 0 picks a free port */
  port: number
  /** VIGIL_DATA_DIR, default ./data: embedded ClickHouse, the generated project key */
  dataDir: string
  /** VIGIL_PUBLIC_URL: how browsers reach this collector (banner, dashboard links). Default http://host:port */
  publicUrl?: string
  /** VIGIL_PROJECT_KEY: ingest key of the default project; generated once when unset */
  projectKey?: string
  clickhouse?: {
    /** CLICKHOUSE_URL: use this ClickHouse server instead of the embedded engine */
    url: string
    username?: string
    password?: string
    /** CLICKHOUSE_DATABASE, default vigil */
    database: string
    /** VIGIL_CLICKHOUSE_CLUSTER: render the schema ON CLUSTER with Replicated and Distributed tables */
    cluster?: string
  }
  /** VIGIL_WEBHOOK_URL: generic JSON alert webhook */
  webhookUrl?: string
  /** VIGIL_WEBHOOK_SECRET: Standard Webhooks signing secret (`whsec_…` base64, or any string) */
  webhookSecret?: string
  /** VIGIL_SLACK_WEBHOOK_URL: Slack incoming webhook */
  slackWebhookUrl?: string
  /** VIGIL_PAGERDUTY_ROUTING_KEY: PagerDuty Events API v2 integration key */
  pagerdutyRoutingKey?: string
  /** VIGIL_PAGERDUTY_URL: the Events API endpoint (tests point it elsewhere) */
  pagerdutyUrl?: string
  /** VIGIL_ALERTMANAGER_WEBHOOK_URL: a receiver of Alertmanager's webhook body (Alertmanager, Grafana OnCall) */
  alertmanagerUrl?: string
  /** VIGIL_FLOW_THRESHOLDS, e.g. `login=0.05,download=0.1`: absolute failure-rate limits per flow */
  flowThresholds: Record<string, number>
  /**
   * VIGIL_ROLE, default `all`: what this collector runs. `all`: intake, the detector, its alerts
   * (outbox, notifiers), the dashboard and the read API. `ingest`: intake only (HTTP, WebSocket,
   * source-map uploads, the admin APIs, /healthz and /metrics) — for collectors added behind a
   * load balancer on one ClickHouse cluster, so that only the `all` ones judge releases and page.
   */
  role: 'all' | 'ingest'
  /** VIGIL_EVAL_INTERVAL_MS, default 5000: how often the detector looks */
  evalIntervalMs: number
  /** Where the built agent and dashboard live (dist/). */
  distDir: string
  /** Fastify logger on/off (VIGIL_LOG=1). */
  logger: boolean
  /** VIGIL_SPOOL_MAX_MB, default 1024: past this much waiting for ClickHouse, intake answers 503. */
  spoolMaxBytes: number
  /** VIGIL_RATE_LIMIT, default 10000: events per second per ingest key (averaged over 10 s); 0: none. */
  rateLimit: number
  /**
   * Distinct names a project may bring within `windowMs` (an hour), by kind; past them a new name's
   * events are refused (`too_many_releases`, …), 0: no limit. VIGIL_LIMIT_RELEASES, default 50:
   * a web app has two or three releases live and a few new ones an hour at most, preview deploys
   * included; an app on devices keeps older versions in the field. VIGIL_LIMIT_ENVIRONMENTS,
   * default 20: production, staging, a few previews. VIGIL_LIMIT_FLOWS, default 100: apps name
   * tens of critical flows. VIGIL_LIMIT_ENDPOINTS, default 300: the routes an app's requests
   * call (ids already made placeholders), third parties' included. VIGIL_LIMIT_FLAG_VARIANTS,
   * default 200: flags live at once times their variants. VIGIL_LIMIT_TAGS, default 1000: tag
   * names times values (tenants, plans, regions). VIGIL_LIMIT_ERROR_GROUPS, default 1000: an app at its worst hour,
   * browser extensions' noise included. The detector judges at most as many releases per
   * environment, and environments, per look.
   */
  limits: CardinalityLimits & { windowMs: number }
  /** VIGIL_RETENTION_DAYS, default 30: events and rollups older than this are dropped (TTL). */
  retentionDays: number
  /** VIGIL_SOURCEMAP_MAX_MB, default 40: a larger source map upload is refused (413). */
  sourcemapMaxBytes: number
  /** VIGIL_SOURCEMAP_CACHE_MB, default 512: memory for parsed source maps (least recently used out first). */
  sourcemapCacheBytes: number
  /** VIGIL_SOURCEMAP_PARSE_MS, default 2000: time spent parsing source maps at most per 10 s (past it, frames stay minified for a while). */
  sourcemapParseMsPer10s: number
  /** VIGIL_ADMIN_TOKEN: required for admin APIs (projects); without it they answer only this machine. */
  adminToken?: string
  /**
   * VIGIL_TRUST_PROXY, default `loopback`: peers whose X-Forwarded-For is believed (addresses,
   * CIDRs, `loopback`, `linklocal`, `uniquelocal`; comma-separated): the client's network is read
   * through them.
   */
  trustProxy: string[]
  /**
   * VIGIL_MIN_FAILING_NETWORKS, default 3: a release is bad only when it is still bad with its
   * this-many-minus-one client networks with the most failures counted as one session each (store Judged).
   */
  minFailingNetworks: number
  /**
   * VIGIL_ALLOWED_HOSTS, comma-separated: more host names the dashboard, its APIs and the admin
   * APIs answer to, besides localhost, IP addresses, VIGIL_HOST and VIGIL_PUBLIC_URL's host.
   */
  allowedHosts: string[]
  /** VIGIL_ALLOWED_ORIGINS, comma-separated: pages of these other origins may call them too (`https://ops.example.com`). */
  allowedOrigins: string[]
  /**
   * How long a client may take: to send its headers, its whole request (VIGIL_REQUEST_TIMEOUT_S,
   * default 120: a 40 MB source map on a slow link), to stay silent mid-request, and to keep an
   * idle connection. WebSockets are not held to them.
   */
  timeouts: { headersMs: number; requestMs: number; idleMs: number; keepAliveMs: number }
}

const repoRoot = resolve(import.meta.dirname, '../..')

const int = (v: string | undefined, dflt: number, name: string): number => {
  if (v === undefined || v === '') return dflt
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(v)}`)
  return n
}

/** `login=0.05,download=0.1` → { login: 0.05, download: 0.1 } */
const thresholds = (v: string | undefined): Record<string, number> => {
  if (!v) return {}
  return Object.fromEntries(
    v.split(',').map((pair) => {
      const [flow, value] = pair.split('=').map((x) => x.trim())
      const n = Number(value)
      if (!flow || !(n > 0 && n < 1)) throw new Error(`VIGIL_FLOW_THRESHOLDS: "${pair}" is not flow=rate with a rate between 0 and 1`)
      return [flow, n]
    }),
  )
}

const role = (v: string | undefined): Config['role'] => {
  if (v === undefined || v === '' || v === 'all') return 'all'
  if (v === 'ingest') return 'ingest'
  throw new Error(`VIGIL_ROLE must be all or ingest, got ${JSON.stringify(v)}`)
}

/** `loopback,10.0.0.0/8` → the list, checked (a typo must not silently trust nobody, or everybody). */
const proxies = (v: string): string[] => {
  const list = v.split(',').map((s) => s.trim()).filter(Boolean)
  try {
    trustProxy(list)
  } catch (err) {
    throw new Error(`VIGIL_TRUST_PROXY: ${(err as Error).message}`)
  }
  return list
}

const opt = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v)

const list = (v: string | undefined): string[] => (v ?? '').split(',').map((x) => x.trim()).filter(Boolean)

/** `vigil.example.com` or `vigil.example.com:8080` → `vigil.example.com` */
const hostNames = (v: string | undefined): string[] =>
  list(v).map((h) => {
    const name = hostName(h)
    if (!name) throw new Error(`VIGIL_ALLOWED_HOSTS: "${h}" is not a host name (no scheme, no path)`)
    return name
  })

/** `https://ops.example.com` as browsers send it in Origin. */
const origins = (v: string | undefined): string[] =>
  list(v).map((o) => {
    const u = URL.canParse(o) ? new URL(o) : undefined
    if (!u || !/^https?:$/.test(u.protocol) || o.replace(/\/$/, '').toLowerCase() !== u.origin) throw new Error(`VIGIL_ALLOWED_ORIGINS: "${o}" is not an origin like https://ops.example.com`)
    return u.origin
  })

/** Reads the configuration from the environment; `overrides` win (tests use them). */
export const loadConfig = (env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config => {
  const url = opt(env.CLICKHOUSE_URL)
  return {
    host: env.VIGIL_HOST || '127.0.0.1',
    port: int(env.VIGIL_PORT, 8080, 'VIGIL_PORT'),
    dataDir: resolve(env.VIGIL_DATA_DIR || 'data'),
    publicUrl: opt(env.VIGIL_PUBLIC_URL),
    projectKey: opt(env.VIGIL_PROJECT_KEY),
    clickhouse: url
      ? {
          url,
          username: opt(env.CLICKHOUSE_USER),
          password: opt(env.CLICKHOUSE_PASSWORD),
          database: env.CLICKHOUSE_DATABASE || 'vigil',
          cluster: opt(env.VIGIL_CLICKHOUSE_CLUSTER),
        }
      : undefined,
    webhookUrl: opt(env.VIGIL_WEBHOOK_URL),
    webhookSecret: opt(env.VIGIL_WEBHOOK_SECRET),
    slackWebhookUrl: opt(env.VIGIL_SLACK_WEBHOOK_URL),
    pagerdutyRoutingKey: opt(env.VIGIL_PAGERDUTY_ROUTING_KEY),
    pagerdutyUrl: opt(env.VIGIL_PAGERDUTY_URL),
    alertmanagerUrl: opt(env.VIGIL_ALERTMANAGER_WEBHOOK_URL),
    role: role(env.VIGIL_ROLE),
    evalIntervalMs: int(env.VIGIL_EVAL_INTERVAL_MS, 5000, 'VIGIL_EVAL_INTERVAL_MS'),
    flowThresholds: thresholds(env.VIGIL_FLOW_THRESHOLDS),
    distDir: resolve(repoRoot, 'dist'),
    logger: env.VIGIL_LOG === '1',
    spoolMaxBytes: int(env.VIGIL_SPOOL_MAX_MB, 1024, 'VIGIL_SPOOL_MAX_MB') * 1024 * 1024,
    rateLimit: int(env.VIGIL_RATE_LIMIT, 10_000, 'VIGIL_RATE_LIMIT'),
    limits: {
      releases: int(env.VIGIL_LIMIT_RELEASES, 50, 'VIGIL_LIMIT_RELEASES'),
      environments: int(env.VIGIL_LIMIT_ENVIRONMENTS, 20, 'VIGIL_LIMIT_ENVIRONMENTS'),
      flows: int(env.VIGIL_LIMIT_FLOWS, 100, 'VIGIL_LIMIT_FLOWS'),
      endpoints: int(env.VIGIL_LIMIT_ENDPOINTS, 300, 'VIGIL_LIMIT_ENDPOINTS'),
      flagVariants: int(env.VIGIL_LIMIT_FLAG_VARIANTS, 200, 'VIGIL_LIMIT_FLAG_VARIANTS'),
      tags: int(env.VIGIL_LIMIT_TAGS, 1000, 'VIGIL_LIMIT_TAGS'),
      errorGroups: int(env.VIGIL_LIMIT_ERROR_GROUPS, 1000, 'VIGIL_LIMIT_ERROR_GROUPS'),
      windowMs: 3600_000,
    },
    retentionDays: Math.max(1, int(env.VIGIL_RETENTION_DAYS, 30, 'VIGIL_RETENTION_DAYS')),
    sourcemapMaxBytes: Math.max(1, int(env.VIGIL_SOURCEMAP_MAX_MB, 40, 'VIGIL_SOURCEMAP_MAX_MB')) * 1024 * 1024,
    sourcemapCacheBytes: Math.max(1, int(env.VIGIL_SOURCEMAP_CACHE_MB, 512, 'VIGIL_SOURCEMAP_CACHE_MB')) * 1024 * 1024,
    sourcemapParseMsPer10s: Math.max(1, int(env.VIGIL_SOURCEMAP_PARSE_MS, 2000, 'VIGIL_SOURCEMAP_PARSE_MS')),
    adminToken: opt(env.VIGIL_ADMIN_TOKEN),
    trustProxy: proxies(env.VIGIL_TRUST_PROXY ?? 'loopback'),
    minFailingNetworks: Math.max(1, int(env.VIGIL_MIN_FAILING_NETWORKS, 3, 'VIGIL_MIN_FAILING_NETWORKS')),
    allowedHosts: hostNames(env.VIGIL_ALLOWED_HOSTS),
    allowedOrigins: origins(env.VIGIL_ALLOWED_ORIGINS),
    timeouts: (() => {
      const requestMs = Math.max(1, int(env.VIGIL_REQUEST_TIMEOUT_S, 120, 'VIGIL_REQUEST_TIMEOUT_S')) * 1000
      return { headersMs: Math.min(30_000, requestMs), requestMs, idleMs: 120_000, keepAliveMs: 72_000 }
    })(),
    ...overrides,
  }
}
