/**
 * The script-tag build: `<script async src=".../vigil.js" data-key data-release data-env>`.
 * Configuration comes from the tag's data-* attributes; the collector is the script's own origin
 * unless `data-endpoint` says otherwise. `window.vigil` is both a function, `vigil('captureError',
 * err)`, and an object, `vigil.flow('login')`. Calls queued by the stub before this script loaded
 * are replayed:
 *   <script>window.vigil=window.vigil||function(){(vigil.q=vigil.q||[]).push(arguments)}</script>
 */
import { captureError, flag, flow, flush, init, tag, track, vital } from './index'
import { g } from './lib/global'
import { on } from './lib/on'
import { safe } from './lib/safe'
import type { Options } from './types'

type Api = Record<string, (...args: unknown[]) => unknown>

// The page's global (what `window` is in a page), shared with the rest of the agent: bytes.
const w = g as { vigil?: { q?: ArrayLike<unknown>[] } }
const queued = (w.vigil && w.vigil.q) || []
const methods = { init, flow, track, captureError, vital, flag, tag, flush } as unknown as Api
// An unknown method name throws inside safe(): swallowed.
const api = Object.assign(
  safe((method: string, ...args: unknown[]) => methods[method]!(...args)),
  methods,
)
w.vigil = api as typeof w.vigil

const script = document.currentScript as HTMLScriptElement | null
const d = (script && script.dataset) || {}
// Without a trailing slash: `data-endpoint="https://x/"` must not load `https://x//vitals.js`.
const base = (d.endpoint || (script && new URL(script.src).origin) || '').replace(/\/+$/, '')
// data-key, data-release, data-env, data-requests as they are (`data-requests="false"`: see createAgent).
if (d.key) init({ ...(d as unknown as Options), endpoint: base, sample: +d.sample! })
for (const args of queued) api.apply(0, args as [string])

// Web vitals come in a second file, loaded once the page has loaded: the core stays small.
// (A script element added by code loads async.)
const loadVitals = safe(() =>
  document.head.appendChild(Object.assign(document.createElement('script'), { src: base + '/vitals.js' })),
)
if (d.vitals != 'false') {
  if (document.readyState == 'complete') setTimeout(loadVitals)
  else on('load', () => setTimeout(loadVitals))
}
