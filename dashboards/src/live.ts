/**
 * The live feed (`GET /v1/live`): a message after every look of the detector, at every alert
 * change and at every notifier attempt. When it drops it is opened again after a pause that doubles up to 30 s; `onState`
 * tells the page whether it is live.
 */
import type { LiveEvent as LiveMessage } from '../../collector/src/live.js'
export type { LiveMessage }

export const subscribe = (onMessage: (m: LiveMessage) => void, onState: (live: boolean) => void): void => {
  let retry = 1000
  const connect = () => {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/live`)
    ws.onopen = () => {
      retry = 1000
      onState(true)
    }
    ws.onmessage = (e) => {
      try {
        onMessage(JSON.parse(String(e.data)) as LiveMessage)
      } catch {
        // Not ours to show.
      }
    }
    ws.onclose = () => {
      onState(false)
      setTimeout(connect, retry)
      retry = Math.min(retry * 2, 30_000)
    }
  }
  connect()
}
