import { createHmac } from 'node:crypto'
import { postJson } from './postJson.js'
import type { Notifier, AlertMessage } from './types.js'

/**
 * Standard Webhooks signature (https://www.standardwebhooks.com): base64 HMAC-SHA256 over
 * `${id}.${timestamp}.${body}`, keyed with the secret's bytes (`whsec_` + base64, or, for a secret
 * without that prefix, its UTF-8 bytes).
 */
export const signWebhook = (secret: string, id: string, timestamp: number, body: string): string => {
  const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret, 'utf8')
  return 'v1,' + createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')
}

/**
 * Generic JSON webhook: `{type, timestamp, data}`, signed when a secret is configured. `webhook-id`
 * is the message's id, the same on every attempt and after a restart: a receiver drops a
 * redelivery by it (delivery is at least once). `webhook-timestamp` is the attempt's.
 */
export const webhookNotifier = (url: string, secret?: string): Notifier => ({
  name: 'webhook',
  send: async (msg: AlertMessage, signal: AbortSignal) => {
    const body = JSON.stringify({ type: msg.type, timestamp: new Date(msg.at).toISOString(), data: msg.data })
    const timestamp = Math.floor(Date.now() / 1000)
    const headers: Record<string, string> = {
      'user-agent': 'vigil-collector',
      'webhook-id': msg.id,
      'webhook-timestamp': String(timestamp),
    }
    if (secret) headers['webhook-signature'] = signWebhook(secret, msg.id, timestamp, body)
    await postJson('webhook', url, body, signal, headers)
  },
})
