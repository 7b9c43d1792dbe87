/**
 * The Prometheus alerting rules in dashboards/prometheus/ against a running collector: the file is
 * a rule file Prometheus loads (groups of rules, each an alert with an expression, a `for` and a
 * summary), and every metric an expression names is one the collector exports — a rule on a
 * metric that does not exist never fires.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'

type Rule = { alert?: string; expr?: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
const FILE = join(import.meta.dirname, '..', '..', 'dashboards', 'prometheus', 'vigil-alerts.yml')
const file = parse(readFileSync(FILE, 'utf8')) as { groups?: { name?: string; rules?: Rule[] }[] }
const rules = (file.groups ?? []).flatMap((g) => g.rules ?? [])

/** The metric names in a PromQL expression: identifiers not followed by `(` (functions) and not label names or keywords. */
const metricsOf = (expr: string): string[] =>
  [...expr.replace(/\{[^}]*\}/g, '').matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)]
    .map((m) => m[1]!)
    .filter((name) => !['and', 'or', 'unless', 'by', 'on', 'without', 'ignoring', 'group_left', 'group_right', 'bool', 'offset'].includes(name) && !/^\d/.test(name))
    .filter((name) => !/^[0-9]+[smhd]$/.test(name))

describe('the Prometheus alerting rules', () => {
  const dir = tempDir()
  let c: Running
  let exported: Set<string>

  beforeAll(async () => {
    c = await startCollector({ dataDir: dir.path, evalIntervalMs: 50 })
    // A look completes, so the look counters have their series.
    await new Promise((r) => setTimeout(r, 500))
    const text = await (await fetch(`${c.url}/metrics`)).text()
    exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!))
  })
  afterAll(async () => {
    await c?.close()
    dir.remove()
  })

  it('is a rule file: named groups of alerts, each with an expression, a duration, a severity and a summary', () => {
    expect(file.groups?.length).toBeGreaterThan(0)
    for (const g of file.groups!) expect(g.name).toBeTruthy()
    expect(rules.map((r) => r.alert)).toContain('VigilDetectorStale')
    for (const r of rules) {
      expect(r.alert, JSON.stringify(r)).toMatch(/^[A-Z][A-Za-z]+$/)
      expect(r.expr, r.alert).toBeTruthy()
      expect(r.for, r.alert).toMatch(/^\d+[smh]$/)
      expect(['critical', 'warning'], r.alert).toContain(r.labels?.severity)
      expect(r.annotations?.summary, r.alert).toBeTruthy()
    }
  })

  it('names only metrics the collector exports (and Prometheus’ own up)', () => {
    for (const r of rules) {
      const names = metricsOf(r.expr!).filter((n) => n !== 'up')
      for (const n of names) expect(exported.has(n) || exported.has(n.replace(/_(total|count|sum|bucket)$/, '')), `${r.alert}: ${n}`).toBe(true)
    }
    // The detector's own: its lag, its looks by result, and when it last looked.
    for (const n of ['vigil_detector_lag_seconds', 'vigil_detector_looks_total', 'vigil_detector_last_look_timestamp_seconds', 'vigil_drain_lag_seconds']) expect(exported.has(n), n).toBe(true)
  })

  it('has the collector count its looks, done and failed, and say when it last looked', async () => {
    const text = await (await fetch(`${c.url}/metrics`)).text()
    const done = Number(/^vigil_detector_looks_total\{result="done"\} (\d+)/m.exec(text)?.[1] ?? 0)
    expect(done).toBeGreaterThan(0)
    const last = Number(/^vigil_detector_last_look_timestamp_seconds (\S+)/m.exec(text)?.[1])
    expect(Math.abs(Date.now() / 1000 - last)).toBeLessThan(60)
  })
})
