/**
 * The one list of refusals (collector/src/ingest/refusals.ts) and the one way to refuse: every
 * coded error the intake can answer with is listed, and a refused batch is counted once, with its
 * events, under the code it is answered with.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import * as errors from '../../collector/src/errors.js'
import { createMetrics } from '../../collector/src/metrics.js'
import { REFUSALS, refuse, withEventsCounted } from '../../collector/src/ingest/refusals.js'

const src = join(import.meta.dirname, '../../collector/src')

const counted = async (metrics: ReturnType<typeof createMetrics>) => {
  const values = async (c: { get: () => Promise<{ values: { labels: object; value: number }[] }> }) =>
    Object.fromEntries((await c.get()).values.map((v) => [Object.values(v.labels)[0], v.value]))
  return { batches: await values(metrics.batchesRefused), events: await values(metrics.eventsRefused) }
}

describe('refusals', () => {
  it('lists the code of every coded error the intake throws, and of Fastify refusals mapped onto ours', () => {
    const ingest = readdirSync(join(src, 'ingest'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))
    const files = [...ingest.map((f) => join(src, 'ingest', f)), join(src, 'errors.ts')]
    const thrown = new Set<string>()
    for (const file of files)
      for (const [, name] of readFileSync(file, 'utf8').matchAll(/\bnew (\w+)\(/g)) {
        const made = (errors as Record<string, unknown>)[name!]
        if (typeof made === 'function') thrown.add((new (made as new (...a: string[]) => { code: string })('x', 'y') as { code: string }).code)
      }
    expect(thrown.size).toBeGreaterThan(10)
    const unlisted = [...thrown].filter((code) => !(code in REFUSALS) || REFUSALS[code as keyof typeof REFUSALS].of !== 'batch')
    expect(unlisted).toEqual([])
  })

  it('counts a refused batch by its code, its events under the same code, a body never read as one', async () => {
    const metrics = createMetrics()
    const a = refuse(metrics, new errors.UnknownKey(), { ev: [1, 2, 3] })
    expect(a).toMatchObject({ status: 403, code: 'VIGIL_UNKNOWN_KEY', internal: false })
    refuse(metrics, new errors.InvalidJson('Unexpected token'), undefined)
    expect(await counted(metrics)).toEqual({
      batches: { VIGIL_UNKNOWN_KEY: 1, VIGIL_INVALID_JSON: 1 },
      events: { VIGIL_UNKNOWN_KEY: 3, VIGIL_INVALID_JSON: 1 },
    })
  })

  it('does not count again the events the thrower counted, and answers an internal fault as one', async () => {
    const metrics = createMetrics()
    const full = refuse(metrics, withEventsCounted(errors.withRetryAfter(new errors.SpoolFull(), 30)), { ev: [1, 2] })
    expect(full).toMatchObject({ status: 503, code: 'VIGIL_SPOOL_FULL', retryAfter: 30 })
    const fault = refuse(metrics, new Error('disk on fire'), { ev: [1] })
    expect(fault).toMatchObject({ status: 500, code: 'VIGIL_INTERNAL', message: 'Internal error', internal: true })
    expect(await counted(metrics)).toEqual({ batches: { VIGIL_SPOOL_FULL: 1, VIGIL_INTERNAL: 1 }, events: { VIGIL_INTERNAL: 1 } })
  })
})
