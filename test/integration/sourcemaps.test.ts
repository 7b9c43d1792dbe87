/**
 * Source maps and error groups through a real collector: who may upload (VIGIL_ADMIN_TOKEN set:
 * the admin token or the project's upload token, never the public ingest key); errors regrouped by
 * their original source on their way into ClickHouse, from a bundle esbuild builds here and a
 * stack V8 throws from it; and an upgrade from a version that grouped errors differently, which
 * must not page for the bugs it already knew.
 */
import { runInNewContext } from 'node:vm'
import * as esbuild from 'esbuild'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fingerprint } from '../../collector/src/grouping/fingerprint.js'
import { runCli } from '../helpers/cli.js'
import { startCollector, tempDir, type Running } from '../helpers/collector.js'
import { eventRow } from '../helpers/eventRow.js'
import { countEvents, insertEvents, runSql, storedEvents } from '../helpers/storeQueries.js'

const TOKEN = 'admin-token-for-sourcemaps-test'
const KEY = 'vgl_sourcemaps_test'
const SCRIPT = 'https://shop.example/assets/app-Dqm-mHPd.js'

/** A real minified bundle with its map, and the stack V8 gives when its bug runs. */
const bundle = async () => {
  const out = await esbuild.build({
    stdin: {
      contents: `export function renderPlans(api) {\n  const plans = api.plans\n  return plans.map((p) => p.name).join(', ')\n}\nexport function boot() {\n  return renderPlans({})\n}\n`,
      sourcefile: 'src/plans.ts',
      loader: 'ts',
    },
    bundle: true,
    minify: true,
    format: 'iife',
    globalName: 'shop',
    sourcemap: 'external',
    sourcesContent: true,
    outfile: 'app.js',
    write: false,
  })
  const code = out.outputFiles.find((f) => f.path.endsWith('app.js'))!.text
  const map = out.outputFiles.find((f) => f.path.endsWith('.map'))!.text
  const sandbox: { shop?: { boot: () => void } } = {}
  runInNewContext(code, sandbox, { filename: SCRIPT })
  let stack = ''
  try {
    sandbox.shop!.boot()
  } catch (err) {
    stack = (err as Error).stack ?? ''
  }
  return { map, stack }
}

describe('source maps', () => {
  const dir = tempDir()
  let c: Running
  let built: Awaited<ReturnType<typeof bundle>>
  beforeAll(async () => {
    ;[c, built] = await Promise.all([startCollector({ dataDir: dir.path, adminToken: TOKEN, projectKey: KEY }), bundle()])
  })
  afterAll(async () => {
    await c?.close()
    dir.remove()
  })

  const upload = (release: string, headers: Record<string, string>, body = built.map, query = '') =>
    fetch(`${c.url}/v1/sourcemaps?release=${release}&url=/assets/app-Dqm-mHPd.js${query}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } })
  const error = (release: string, session: string) =>
    fetch(`${c.url}/v1/ingest`, {
      method: 'POST',
      body: JSON.stringify({ k: KEY, r: release, s: session, ev: [{ t: 'error', ts: Date.now(), ty: 'TypeError', m: "Cannot read properties of undefined (reading 'map')", st: built.stack, u: 'https://shop.example/plans', h: false }] }),
    }).then((r) => expect(r.status).toBe(202))
  const stored = async (release: string) => {
    await c.app.vigil.stored()
    return (await storedEvents(c.app.vigil.store, 'default', { release, kind: 'error' }))[0]!
  }

  it('takes uploads with the admin token or the upload token only, the token naming the project', async () => {
    const uploadToken = c.app.vigil.projects.get('default')!.uploadToken
    expect(uploadToken).toMatch(/^vglu_[A-Za-z0-9]{32}$/)
    for (const headers of [{}, { authorization: `Bearer ${KEY}` }, { authorization: 'Bearer vglu_guess' }] as Record<string, string>[]) {
      const r = await upload('2.0.0', headers)
      expect([r.status, ((await r.json()) as { code: string }).code]).toEqual([403, 'VIGIL_UPLOAD_FORBIDDEN'])
    }
    // Refused before the body is read: a stranger's body larger than any map allowed is not a 413.
    const huge = await upload('2.0.0', { authorization: `Bearer ${KEY}` }, 'x'.repeat(c.app.vigil.config.sourcemapMaxBytes + 1))
    expect([huge.status, ((await huge.json()) as { code: string }).code]).toEqual([403, 'VIGIL_UPLOAD_FORBIDDEN'])
    // The upload token is its project's: it may not write to another.
    const other = await upload('2.0.0', { authorization: `Bearer ${uploadToken}` }, built.map, '&project=elsewhere')
    expect(other.status).toBe(403)
    expect((await upload('2.0.0', { authorization: `Bearer ${TOKEN}` })).status).toBe(201)
    expect((await upload('2.0.0', { authorization: `Bearer ${uploadToken}` })).status).toBe(201)
    // A new upload token: the old one stops working at once.
    const rotated = await runCli(c.url, ['project', 'rotate-upload-token', 'default', '--json'], { VIGIL_ADMIN_TOKEN: TOKEN })
    expect(rotated.code, rotated.err).toBe(0)
    const fresh = (JSON.parse(rotated.out) as { uploadToken: string }).uploadToken
    expect(fresh).not.toBe(uploadToken)
    expect((await upload('2.0.0', { authorization: `Bearer ${uploadToken}` })).status).toBe(403)
    const list = await runCli(c.url, ['sourcemaps', 'list', '--release', '2.0.0'], { VIGIL_UPLOAD_TOKEN: fresh })
    expect(list.code, list.err).toBe(0)
    expect(list.out).toMatch(/^\/assets\/app-Dqm-mHPd\.js {2}\d+ KB, 1 sources, uploaded /)
  })

  it('counts every upload refused by its code, a body over the limit (refused as it is read) too', async () => {
    const uploads = async (result: string) =>
      Number(new RegExp(`^vigil_sourcemap_uploads_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(await (await fetch(`${c.url}/metrics`)).text())?.[1] ?? 0)
    const [forbidden, tooLarge] = [await uploads('VIGIL_UPLOAD_FORBIDDEN'), await uploads('VIGIL_BODY_TOO_LARGE')]
    expect((await upload('2.1.0', {})).status).toBe(403)
    const huge = await upload('2.1.0', { authorization: `Bearer ${TOKEN}` }, 'x'.repeat(c.app.vigil.config.sourcemapMaxBytes + 1))
    expect([huge.status, ((await huge.json()) as { code: string }).code]).toEqual([413, 'VIGIL_BODY_TOO_LARGE'])
    // Reading the list is no upload.
    expect((await fetch(`${c.url}/v1/sourcemaps?release=2.1.0`)).status).toBe(403)
    expect([await uploads('VIGIL_UPLOAD_FORBIDDEN'), await uploads('VIGIL_BODY_TOO_LARGE')]).toEqual([forbidden + 1, tooLarge + 1])
  })

  it('regroups errors by their original source as they are stored, and keeps the group their stack gave', async () => {
    // Before its maps: the group of its stack.
    await error('3.0.0', 'a')
    const before = await stored('3.0.0')
    expect(before.fingerprint).toBe(fingerprint('TypeError', "Cannot read properties of undefined (reading 'map')", built.stack, 'https://shop.example/plans'))
    expect(before.stack_fingerprint).toBe(before.fingerprint)
    // Once the map is uploaded (this collector forgets that it had none), the next one is regrouped.
    expect((await upload('3.0.0', { authorization: `Bearer ${TOKEN}` })).status).toBe(201)
    await error('3.0.0', 'b')
    await c.app.vigil.stored()
    const after = (await storedEvents(c.app.vigil.store, 'default', { release: '3.0.0', kind: 'error' })).find((e) => e.session === 'b')!
    expect(after.fingerprint).not.toBe(before.fingerprint)
    expect(after.stack_fingerprint).toBe(before.fingerprint)
    const metrics = await (await fetch(`${c.url}/metrics`)).text()
    expect(metrics).toMatch(/^vigil_errors_regrouped_total 1$/m)
    expect(metrics).toMatch(/^vigil_sourcemap_uploads_total\{result="stored"\} \d+$/m)
    // The release page shows the original frame: the function, its file, its line of code.
    const page = (await (await fetch(`${c.url}/v1/releases/3.0.0?range=1h`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
      error_groups: { fingerprint: string; grouped_by: string; frames: { fn: string; file: string; line: number; context?: { start: number; lines: string[] } }[] }[]
    }
    const mapped = page.error_groups.find((g) => g.fingerprint === after.fingerprint)!
    expect(mapped.grouped_by).toBe('source')
    expect(mapped.frames[0]).toMatchObject({ fn: 'renderPlans', file: 'src/plans.ts', line: 3 })
    expect(mapped.frames[0]!.context!.lines).toContain("  return plans.map((p) => p.name).join(', ')")
  })

  it('reads no map for what a sender makes up: scripts and releases without maps cost no read of storage', async () => {
    const reads = async () => {
      const text = await (await fetch(`${c.url}/metrics`)).text()
      return [...text.matchAll(/^vigil_sourcemap_load_seconds_count\{found="(?:true|false)"\} (\d+)$/gm)].reduce((t, m) => t + Number(m[1]), 0)
    }
    const before = await reads()
    const ev = Array.from({ length: 200 }, (_, i) => ({
      t: 'error',
      ts: Date.now(),
      ty: 'TypeError',
      m: `made up ${i}`,
      st: `TypeError: made up ${i}\n    at x (https://shop.example/assets/fake-${i}.js:1:${i + 1})`,
      u: 'https://shop.example/',
      r: i % 2 ? '3.0.0' : `never-${i}`,
    }))
    const r = await fetch(`${c.url}/v1/ingest`, { method: 'POST', body: JSON.stringify({ k: KEY, s: 'flood', ev }) })
    expect(r.status).toBe(202)
    // Made-up releases past the limit on new names are refused (VIGIL_LIMIT_RELEASES); the rest is stored.
    const { accepted } = (await r.json()) as { accepted: number }
    expect(accepted).toBeGreaterThanOrEqual(100)
    await c.app.vigil.stored()
    expect(await reads()).toBe(before)
    expect(await countEvents(c.app.vigil.store, 'default', { kind: 'error' })).toBeGreaterThanOrEqual(accepted)
  })
})

describe('error groups across an upgrade', () => {
  const dir = tempDir()
  afterAll(() => dir.remove())

  it('does not page for a bug known before the upgrade, stored under the key the older version gave it', async () => {
    const message = "Cannot read properties of undefined (reading 'map')"
    const stack = (file: string) => `TypeError: ${message}\n    at n (https://shop.example/assets/${file}:1:786)\n    at HTMLButtonElement.<anonymous> (https://shop.example/assets/${file}:1:2773)`
    // A version before this one: the bug of 1.0.0 in every session, under its own kind of key.
    let c = await startCollector({ dataDir: dir.path, projectKey: KEY })
    const legacy = 'a1b2c3d4e5f60718'
    const rows = Array.from({ length: 10 }, (_, i) => [
      eventRow({ release: '1.0.0', kind: 'session', ts: Date.now() - 20 * 60_000 + i, session: `o${i}`, outcome: 'start' }),
      eventRow({ release: '1.0.0', kind: 'error', ts: Date.now() - 20 * 60_000 + i, session: `o${i}`, name: 'TypeError', message, stack: stack('index-Dqm-mHPd.js'), url: 'https://shop.example/', fingerprint: legacy, handled: 0 }),
    ]).flat()
    await insertEvents(c.app.vigil.store, rows)
    // As if the data migration had not run yet (the table of applied migrations is ours to edit here).
    await runSql(c.app.vigil.store, 'ALTER TABLE vigil_migrations DELETE WHERE version = 6 SETTINGS mutations_sync = 1')
    await c.close()

    // The upgrade: the same bug in 1.1.0, from another build, grouped as this version groups.
    c = await startCollector({ dataDir: dir.path, projectKey: KEY })
    try {
      for (let i = 0; i < 10; i++) {
        const r = await fetch(`${c.url}/v1/ingest`, {
          method: 'POST',
          body: JSON.stringify({ k: KEY, r: '1.1.0', s: `n${i}`, ev: [{ t: 'error', ts: Date.now(), ty: 'TypeError', m: message, st: stack('index-BQF9UFfj.js'), u: 'https://shop.example/', h: false }] }),
        })
        expect(r.status).toBe(202)
      }
      await c.app.vigil.stored()
      await c.app.vigil.detector.evaluate()
      const [group] = await c.app.vigil.store.detector.errorGroups('default', 'production', Date.now() - 3600_000, Date.now(), { release: '1.1.0', limit: 10 })
      // The key changed with the version (without the migration, this group would be new and page)...
      expect(group!.fingerprint).not.toBe(legacy)
      // ...and it is known in 1.0.0 all the same.
      expect(group!.seenIn.map((s) => s.release)).toEqual(['1.0.0', '1.1.0'])
      expect(await c.app.vigil.store.alerts.alerts('default')).toEqual([])
    } finally {
      await c.close()
    }
  })
})
