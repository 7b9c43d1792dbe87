/**
 * POSTs a JSON body to a receiver; resolves when it answers 2xx, throws otherwise. `signal`
 * bounds the attempt (the outbox's per-attempt timeout). The answer's body is not wanted: it is
 * cancelled, so an answer that never ends holds nothing.
 */
export const postJson = async (receiver: string, url: string, body: string, signal: AbortSignal, headers: Record<string, string> = {}): Promise<void> => {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, signal })
  await res.body?.cancel().catch(() => undefined)
  if (!res.ok) throw new Error(`${receiver} answered ${res.status}`)
}
