/**
 * The script-tag build: `<script async src=".../vigil.js" data-key data-release data-env>`.
 * Configuration comes from the tag's data-* attributes; the collector is the script's own origin
 * unless data-endpoint says otherwise. The API is `window.vigil`.
 */
import { captureError, flow, flush, init } from './index'

const script = document.currentScript as HTMLScriptElement | null
const data = (script && script.dataset) || {}
;(window as unknown as { vigil: unknown }).vigil = { init, flow, captureError, flush }
if (data.key && script)
  init({
    key: data.key,
    release: data.release,
    env: data.env,
    endpoint: data.endpoint || new URL(script.src).origin,
  })
