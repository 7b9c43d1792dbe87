/**
 * The dashboard's reads under many tabs, on a real collector (embedded ClickHouse in a temp dir,
 * real HTTP and its live feed on 127.0.0.1): ten tabs asking the same get one answer, computed
 * once; after a look, the answer is computed again before the feed tells the pages, so a tab
 * reading on the feed's word reads the look's numbers, at once (kept, not computed while it waits).
 */
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { collectorForTests } from '../helpers/collector.js'
import { sendSessions } from '../helpers/sessions.js'

const KEY = 'vgl_snapshots_key'

describe("the dashboard's page answers", () => {
  // Looks only when the test says.
  const collector = collectorForTests({ projectKey: KEY, evalIntervalMs: 3_600_000 })
  const answers = async () => {
    const c = collector()
    const text = await (await fetch(`${c.url}/metrics`)).text()
    const count = (answer: string) => Number(text.match(new RegExp(`^vigil_page_answers_total\\{page="overview",answer="${answer}"\\} (\\d+)$`, 'm'))?.[1] ?? 0)
    return { kept: count('kept'), computed: count('computed'), renewed: count('renewed') }
  }
  const sessionsOf = async (release: string) => {
    const c = collector()
    const res = await fetch(`${c.url}/v1/overview?range=1h`)
    expect(res.status).toBe(200)
    const body = (await res.json()) as { releases: { release: string; sessions: number }[] }
    return body.releases.find((r) => r.release === release)?.sessions ?? 0
  }

  it('answers ten tabs with one computation, and after a look tells the pages only once the new answer is ready', async () => {
    const c = collector()
    expect(await sendSessions(c.url, KEY, Array.from({ length: 5 }, () => ['1.0.0', true]))).toBe(202)
    await c.app.vigil.stored()
    await c.app.vigil.detector.evaluate()

    const tabs = await Promise.all(Array.from({ length: 10 }, () => sessionsOf('1.0.0')))
    expect(tabs).toEqual(Array(10).fill(5))
    expect(await answers()).toEqual({ kept: 9, computed: 1, renewed: 0 })

    // Three more users, stored; the pages hear of them from the next look.
    expect(await sendSessions(c.url, KEY, Array.from({ length: 3 }, () => ['1.0.0', true]))).toBe(202)
    await c.app.vigil.stored()
    const live = new WebSocket(`${c.url.replace('http', 'ws')}/v1/live`)
    const looks: number[] = []
    live.on('message', (d) => (JSON.parse(String(d)) as { type: string }).type === 'look' && looks.push(Date.now()))
    await new Promise((r) => live.once('open', r))
    const told = new Promise<void>((resolve) => live.on('message', (d) => (JSON.parse(String(d)) as { type: string }).type === 'look' && looks.length >= 2 && resolve()))
    await c.app.vigil.detector.evaluate()
    await told
    live.close()

    // On the feed's word: the look's numbers, kept since the look (renewed before the pages were told).
    const before = await answers()
    expect(before.renewed).toBe(1)
    expect(await Promise.all(Array.from({ length: 10 }, () => sessionsOf('1.0.0')))).toEqual(Array(10).fill(8))
    expect(await answers()).toEqual({ ...before, kept: before.kept + 10 })
  })
})
