/** Options for `init()`; the script tag's `data-*` attributes set the same. */
export type Options = {
  /** Ingest key of the project (`data-key`). */
  key: string
  /** Version the page runs (`data-release`), e.g. `1.4.2` or a commit sha. */
  release?: string
  /** Environment (`data-env`), default `production`. */
  env?: string
  /** Collector origin (`data-endpoint`); the script tag defaults it to the script's own origin. */
  endpoint?: string
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
  t: 'error' | 'flow' | 'session' | 'vital'
  ts: number
  u?: string
  [field: string]: unknown
}

export type Emit = (ev: WireEvent) => void
