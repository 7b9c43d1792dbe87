/**
 * Floods of names sent with the public key over real HTTP to a real collector (embedded
 * ClickHouse in a temp dir, the default rate limit): 10,000 release names, then 10,000
 * environments. All but the project's limits are refused per event with a code and counted; the
 * real release keeps working and the real next release gets in, also after a restart; a look
 * then judges a bounded number of releases, also when the limits are lifted and thousands of
 * releases are live.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'
import { countEvents, whereEventsWent } from '../helpers/storeQueries.js'

const KEY = 'vgl_cardinality_key'
type Answer = { status: number; accepted: number; rejected: number; errors: { code: string }[] }

const collector = (limits?: { releases: number; environments: number; flows: number; endpoints: number; flagVariants: number; tags: number; errorGroups: number; windowMs: number }) => {
  const dir = tempDir()
  const start = () => startCollector({ dataDir: dir.path, projectKey: KEY, evalIntervalMs: 3_600_000, ...(limits ? { limits } : {}) })
  const it = {
    c: undefined as unknown as Running,
    n: 0,
    restart: async () => {
      await it.c.close()
      it.c = await start()
    },
  }
  beforeAll(async () => {
    it.c = await start()
  })
  afterAll(async () => {
    await it.c?.close()
    dir.remove()
  })
  return it
}

/** A full garbage collection (this process was not started with --expose-gc). */
const gc = (() => {
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
})()

/**
 * How much more heap `f` keeps alive at most while it runs: live memory sampled after a collection
 * every 50 ms, so garbage not yet collected does not count (it made a plain heapUsed reading vary).
 */
const liveHeapGrowth = async (f: () => Promise<unknown>) => {
  gc()
  const before = process.memoryUsage().heapUsed
  let peak = before
  const sample = () => {
    gc()
    peak = Math.max(peak, process.memoryUsage().heapUsed)
  }
  const timer = setInterval(sample, 50)
  try {
    await f()
  } finally {
    clearInterval(timer)
  }
  return peak - before
}

describe('a flood of names', () => {
  const at = collector()
  const post = async (ev: object[]): Promise<Answer> => {
    const res = await fetch(`${at.c.url}/v1/ingest`, { method: 'POST', body: JSON.stringify({ k: KEY, id: `b${at.n++}`, ev }) })
    const body = (await res.json()) as Omit<Answer, 'status'> & { code?: string; message?: string }
    // A batch none of whose events is kept is a 400 that says why its first was refused.
    if (res.status === 400 && body.code === 'VIGIL_NO_VALID_EVENTS') return { status: 400, accepted: 0, rejected: ev.length, errors: [{ code: /^[^:]*: event \d+: (\w+)/.exec(body.message!)![1]! }] }
    return { ...body, status: res.status, errors: body.errors ?? [] }
  }
  /** `n` users' sessions of a release: a session start and a login each. */
  const sessions = (release: string, n: number) =>
    post(
      Array.from({ length: n }, () => {
        const s = `s${at.n++}`
        return [
          { t: 'session', ts: Date.now(), o: 'start', r: release, s },
          { t: 'flow', ts: Date.now(), n: 'login', o: 'ok', r: release, s },
        ]
      }).flat(),
    )
  let realSent = 0
  /** The real release goes on: every event of it accepted. */
  const real = async () => {
    expect(await sessions('1.0.0', 5)).toMatchObject({ status: 202, accepted: 10, rejected: 0 })
    realSent += 10
  }
  const refused = async (reason: string) => {
    const text = await (await fetch(`${at.c.url}/metrics`)).text()
    return Number(text.match(new RegExp(`^vigil_events_refused_total\\{reason="${reason}"\\} (\\d+)$`, 'm'))?.[1] ?? 0)
  }
  /** 10,000 events, each with a name of its own, in batches of 1,000, the real release between them. */
  const flood = async (event: (i: number) => object) => {
    const total = { accepted: 0, rejected: 0, codes: new Set<string>() }
    for (let b = 0; b < 10; b++) {
      const a = await post(Array.from({ length: 1000 }, (_, i) => event(b * 1000 + i)))
      total.accepted += a.accepted
      total.rejected += a.rejected
      for (const e of a.errors) total.codes.add(e.code)
      await real()
    }
    return total
  }

  it('refuses all releases past the limit, keeps the real one working, and lets the real next one in', async () => {
    await real()
    const total = await flood((i) => ({ t: 'flow', ts: Date.now(), n: 'login', o: 'ok', r: `flood-${i}` }))
    // 1.0.0 holds one of the 50 places.
    expect(total).toEqual({ accepted: 49, rejected: 9951, codes: new Set(['too_many_releases']) })
    expect(await refused('too_many_releases')).toBe(9951)

    // The next real release: refused while it is one more name, in once it is used more than a flood name.
    const first = await sessions('1.1.0', 10)
    expect(first.errors.length).toBeGreaterThan(0)
    expect(first.errors.every((e) => e.code === 'too_many_releases')).toBe(true)
    expect(await sessions('1.1.0', 10)).toMatchObject({ status: 202, accepted: 20, rejected: 0 })
  })

  it('refuses all environments past the limit', async () => {
    const total = await flood((i) => ({ t: 'flow', ts: Date.now(), n: 'login', o: 'ok', r: '1.0.0', e: `env-${i}` }))
    // production holds one of the 20 places.
    expect(total).toEqual({ accepted: 19, rejected: 9981, codes: new Set(['too_many_environments']) })
    expect(await refused('too_many_environments')).toBe(9981)
  })

  it('stays up, has stored every event of the real release, and a look judges it with bounded memory', async () => {
    expect((await fetch(`${at.c.url}/healthz`)).status).toBe(200)
    await at.c.app.vigil.stored()
    // Seen short once in CI (129 of 229), as foundation.test.ts: on a miss, say where the events are.
    const stored = await countEvents(at.c.app.vigil.store, 'default', { release: '1.0.0' })
    expect(stored, stored === realSent + 19 ? '' : await whereEventsWent(at.c)).toBe(realSent + 19)
    expect(await liveHeapGrowth(() => at.c.app.vigil.detector.evaluate())).toBeLessThan(64 * 1024 * 1024)
    expect(at.c.app.vigil.detector.verdict('default', 'production', '1.0.0')?.sessions).toBeGreaterThan(0)
  })

  it('keeps the places of the last hour across a restart: the real release in, a new name out', async () => {
    await at.restart()
    await real()
    const after = await post([{ t: 'flow', ts: Date.now(), n: 'login', o: 'ok', r: 'after-restart' }])
    expect(after.errors).toEqual([{ code: 'too_many_releases' }])
  })
})

describe('a look over thousands of live releases (limits lifted)', () => {
  const at = collector({ releases: 0, environments: 0, flows: 0, endpoints: 0, flagVariants: 0, tags: 0, errorGroups: 0, windowMs: 3600_000 })
  const RELEASES = 3000

  it('judges the releases with the most sessions, at most 50 per environment, and counts the rest', async () => {
    const post = (ev: object[]) => fetch(`${at.c.url}/v1/ingest`, { method: 'POST', body: JSON.stringify({ k: KEY, id: `b${at.n++}`, ev }) })
    // The real release, busier than any name of the flood, then the flood: every name stored.
    const real = Array.from({ length: 30 }, (_, i) => ({ t: 'flow', ts: Date.now(), n: 'login', o: 'ok', r: '1.0.0', s: `real-${i}` }))
    expect((await post(real)).status).toBe(202)
    // Each name first seen at a time of its own (the flood spread over five minutes): a window each.
    const now = Date.now()
    for (let b = 0; b < RELEASES / 1000; b++) {
      const res = await post(
        Array.from({ length: 1000 }, (_, i) => ({ t: 'flow', ts: now - (b * 1000 + i) * 100, n: 'login', o: 'ok', r: `flood-${b * 1000 + i}`, s: `f${b}-${i}` })),
      )
      expect(await res.json()).toMatchObject({ accepted: 1000, rejected: 0 })
    }
    await at.c.app.vigil.stored()

    // Live memory (sampled after collections), as above: garbage not yet collected is not held.
    expect(await liveHeapGrowth(() => at.c.app.vigil.detector.evaluate())).toBeLessThan(64 * 1024 * 1024)
    const d = at.c.app.vigil.detector
    expect(d.verdict('default', 'production', '1.0.0')).toBeDefined()
    const judged = Array.from({ length: RELEASES }, (_, i) => d.verdict('default', 'production', `flood-${i}`)).filter(Boolean)
    expect(judged).toHaveLength(49)
    const text = await (await fetch(`${at.c.url}/metrics`)).text()
    expect(text).toMatch(new RegExp(`^vigil_detector_releases_skipped_total ${RELEASES + 1 - 50}$`, 'm'))
  })
})
