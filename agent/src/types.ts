/** Where the agent keeps what must survive a reload: the Web Storage shape, so `localStorage` fits. */
export type KeyValueStore = {
  getItem: (key: string) => string | null
  setItem: (key: string, value: string) => void
}

/**
 * Sends one batch (a JSON string) and resolves with `[status, retryAfterSeconds?]`; status 0
 * means the network failed. `unloading` is true while the page is going away.
 */
export type Transport = (body: string, unloading?: boolean) => Promise<[number, number?]>

/** Options for `init()`; the script tag's `data-*` attributes set the same. */
export type Options = {
  /** Ingest key of the project (`data-key`). */
  key: string
  /** Version the app runs (`data-release`), e.g. `1.4.2` or a commit sha. */
  release?: string
  /** Environment (`data-env`), default `production`. */
  env?: string
  /** Collector origin (`data-endpoint`); the script tag defaults it to the script's own origin. */
  endpoint?: string
  /** Share of sessions that report, 0 to 1 (`data-sample`), default 1. */
  sample?: number
  /** Sees every event before it is queued; return it (changed or not) to send it, or null to drop it. */
  beforeSend?: (event: WireEvent) => WireEvent | null | undefined | false
  /** Persistent storage for the outbox and the session; default `localStorage`, else memory. */
  storage?: KeyValueStore
  /** How batches reach the collector; default `fetch` (keepalive) to `${endpoint}/v1/ingest`. */
  transport?: Transport
  /** Failed requests (fetch and XMLHttpRequest) and calls per endpoint: `false` turns them off (`data-requests="false"`). */
  requests?: false | RequestOptions
}

export type RequestOptions = {
  /** Only requests to URLs starting with one of these (`https://api.example.com`) are reported. */
  allow?: string[]
  /** Requests to URLs starting with one of these are not reported. */
  deny?: string[]
  /** 4xx statuses that are not failures (a 404 the app expects, a 401 of a wrong password). */
  expected?: number[]
}

export type FlowOptions = {
  /** A flow still open after this long is sent as `timeout`. */
  timeoutMs?: number
}

export type FlowHandle = {
  ok: () => void
  fail: (reason?: unknown) => void
  /** Names the step the flow has reached; a flow that ends badly reports its last step. */
  step: (name: string) => void
}

/** One event on the wire (see agent/README.md). */
export type WireEvent = {
  t: 'error' | 'flow' | 'session' | 'vital' | 'request' | 'flag' | 'tag'
  ts: number
  [field: string]: unknown
}

export type Emit = (ev: WireEvent) => void
