// A device that is not a browser (a set-top box, a kiosk, a Node service) reporting to Vigil.
// The agent's core does not assume a DOM: give it a storage and a transport and it runs here.
//
//   npm run build
//   VIGIL_KEY=vgl_… VIGIL_URL=ws://127.0.0.1:8080/v1/ws node examples/node-device.mjs
//
// Storage is a JSON file, so events queued while the collector was unreachable survive a
// restart of the device app; the transport is one WebSocket to GET /v1/ws, where each batch is
// answered by an ack carrying its id and the status HTTP would have given.
import { readFileSync, writeFileSync } from 'node:fs'
import WebSocket from 'ws'
import { captureError, flow, flush, init } from '../dist/agent/vigil.mjs'

const url = process.env.VIGIL_URL ?? 'ws://127.0.0.1:8080/v1/ws'
const file = process.env.VIGIL_STORE ?? '.vigil-device.json'

// Storage: the Web Storage shape (getItem/setItem) over a JSON file.
let saved = {}
try {
  saved = JSON.parse(readFileSync(file, 'utf8'))
} catch {
  // First run.
}
const storage = {
  getItem: (k) => saved[k] ?? null,
  setItem: (k, v) => {
    saved[k] = v
    writeFileSync(file, JSON.stringify(saved))
  },
}

// Transport: resolves with [status] once the collector acknowledges the batch, [0] on failure
// (the agent keeps the batch and retries with backoff).
let socket
const acks = new Map()
const connect = () =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    ws.once('open', () => resolve((socket = ws)))
    ws.once('error', reject)
    ws.on('close', () => (socket = undefined))
    ws.on('message', (data) => {
      const ack = JSON.parse(String(data))
      acks.get(ack.id)?.(ack)
    })
  })
const transport = async (body) => {
  const ws = socket ?? (await connect())
  const { id } = JSON.parse(body)
  return new Promise((resolve) => {
    const timer = setTimeout(() => done({ status: 0 }), 10_000)
    const done = (ack) => {
      clearTimeout(timer)
      acks.delete(id)
      resolve([ack.status, ack.retryAfter])
    }
    acks.set(id, done)
    ws.send(body)
  })
}

init({
  key: process.env.VIGIL_KEY,
  release: process.env.VIGIL_RELEASE ?? '1.0.0',
  env: process.env.VIGIL_ENV ?? 'production',
  storage,
  transport,
})

// The app: an offline playback that fails, a download that works, an error it caught.
const playback = flow('offline-playback', { timeoutMs: 30_000 })
playback.step('open-cached-media')
playback.fail('license expired while offline')
const download = flow('download')
download.step('chunk-1')
download.ok()
captureError(new Error('decoder reset after 3 retries'))

// Send now, and exit once the outbox (kept in storage) is empty.
flush()
const deadline = Date.now() + 15_000
while (JSON.parse(storage.getItem('vigil.q') ?? '[]').length > 0 || !saved['vigil.q']) {
  if (Date.now() > deadline) {
    console.error('vigil: events still queued; they will be sent on the next run')
    process.exit(1)
  }
  await new Promise((r) => setTimeout(r, 50))
}
socket?.close()
console.log('vigil: delivered')
process.exit(0)
