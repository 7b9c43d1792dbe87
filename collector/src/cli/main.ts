/**
 * `npx vigil …`: talks to a running collector's admin API.
 *
 *   vigil project list
 *   vigil project add <name> [--id ID] [--origin URL]... [--rate-limit N] [--flow TRANSACTION=FLOW]...
 *   vigil project set <id> [--name NAME] [--origin URL]... [--rate-limit N] [--flow TRANSACTION=FLOW]...
 *   vigil project rotate-key <id> [--grace-hours H]
 *   vigil project rotate-upload-token <id>
 *   vigil gate --release R [--env production] [--project default] [--wait 10m]
 *   vigil sourcemaps upload --release R [--url-prefix /] [--project P] <dist dir>
 *   vigil sourcemaps list --release R [--project P]
 *   vigil alert test
 *
 * --url (VIGIL_URL, default http://127.0.0.1:$VIGIL_PORT or :8080) and --token
 * (VIGIL_ADMIN_TOKEN) say which collector and how to prove you may (for source maps, the
 * project's --upload-token, VIGIL_UPLOAD_TOKEN, is enough); --json prints JSON.
 */
import { parseArgs } from 'node:util'
import type { Project } from '../store/types.js'
import { CliError } from './cliError.js'
import { EXIT, gate } from './gate.js'
import { findSourceMaps, uploadSourceMaps } from './sourcemaps.js'

const usage = `usage:
  vigil project list
  vigil project add <name> [--id ID] [--origin URL]... [--rate-limit EVENTS_PER_S] [--flow TRANSACTION=FLOW]...
  vigil project set <id> [--name NAME] [--origin URL]... [--rate-limit EVENTS_PER_S] [--flow TRANSACTION=FLOW]...
  vigil project rotate-key <id> [--grace-hours H]     (default 24: the old key works that long)
  vigil project rotate-upload-token <id>               a new upload token for source maps (the old one stops working)
  vigil gate --release R [--flag NAME=VARIANT] [--env E] [--project P] [--wait 10m] [--interval 10s]
        exit 0 when the release (or, with --flag, the flag's variant in it) is healthy, 1 when it is bad, 2 when still unknown or watching at the deadline,
        3 when no verdict came back (unreachable, 5xx or not a verdict until the deadline, or at once a
        wrong token, a wrong --url or command line); retries until --wait's deadline, or 30 s without it
  vigil sourcemaps upload --release R [--url-prefix /] [--project P] <dist dir>
        uploads the source map of every script in the build; --url-prefix is where the build is served from
  vigil sourcemaps list --release R [--project P]
  vigil alert test                                     sends a sample alert through every configured notifier
options: --url URL (VIGIL_URL)  --token TOKEN (VIGIL_ADMIN_TOKEN)  --upload-token TOKEN (VIGIL_UPLOAD_TOKEN)  --json`

const api = async (base: string, token: string | undefined, method: string, path: string, body?: unknown): Promise<unknown> => {
  let res: Response
  try {
    res = await fetch(`${base.replace(/\/+$/, '')}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  } catch (err) {
    throw new CliError(`cannot reach the collector at ${base}: ${(err as Error).cause ?? (err as Error).message} (is it running? --url)`)
  }
  const text = await res.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  if (!res.ok) {
    const e = json as { code?: string; message?: string } | undefined
    throw new CliError(`${res.status} ${e?.code ?? ''}: ${e?.message ?? text}`)
  }
  return json
}

const describe = (p: Project) =>
  [
    `${p.id}  (${p.name})`,
    `  key         ${p.ingestKey}`,
    ...(p.previousKey && p.previousKeyUntil > Date.now() ? [`  old key     ${p.previousKey}  (accepted until ${new Date(p.previousKeyUntil).toISOString()})`] : []),
    `  origins     ${p.origins.length ? p.origins.join(' ') : 'any'}`,
    `  rate limit  ${p.rateLimit ? `${p.rateLimit} events/s` : "the collector's default"}`,
    ...(Object.keys(p.transactionFlows ?? {}).length ? [`  flows       ${Object.entries(p.transactionFlows).map(([t, f]) => `${t}=${f}`).join(' ')}  (Sentry transactions, OpenTelemetry root spans)`] : []),
    `  upload token ${p.uploadToken || 'none (vigil project rotate-upload-token ' + p.id + ')'}`,
  ].join('\n')

const options = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  id: { type: 'string' },
  name: { type: 'string' },
  origin: { type: 'string', multiple: true },
  'rate-limit': { type: 'string' },
  flow: { type: 'string', multiple: true },
  'grace-hours': { type: 'string' },
  release: { type: 'string' },
  flag: { type: 'string' },
  env: { type: 'string' },
  project: { type: 'string' },
  wait: { type: 'string' },
  interval: { type: 'string' },
  'url-prefix': { type: 'string' },
  'upload-token': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

/**
 * The command line, read. A mistake in a gate's is exit 3 like any other failure to get a verdict:
 * exit 1 would read as a bad release and roll the deploy back.
 */
const parse = (argv: string[]) => {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options })
  } catch (err) {
    const isGate = parseArgs({ args: argv, allowPositionals: true, options, strict: false }).positionals[0] === 'gate'
    throw new CliError((err as Error).message, isGate ? EXIT.noAnswer : 1)
  }
}

export const run = async (argv: string[], out: (s: string) => void, note: (s: string) => void = (s) => process.stderr.write(s + '\n')): Promise<number> => {
  const { values, positionals } = parse(argv)
  const base = values.url ?? process.env.VIGIL_URL ?? `http://127.0.0.1:${process.env.VIGIL_PORT || 8080}`
  const token = values.token ?? process.env.VIGIL_ADMIN_TOKEN
  const [group, command, arg] = positionals
  const number = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined
    const n = Number(v)
    if (!Number.isFinite(n) || n < 0) throw new CliError(`--${name} takes a number, got ${JSON.stringify(v)}`)
    return n
  }
  // `--flow pageload=page-load`: a transaction (root span) named or of op `pageload` is the flow `page-load`.
  const flows = (v: string[] | undefined) => {
    if (v === undefined) return undefined
    return Object.fromEntries(
      v.map((pair) => {
        const at = pair.lastIndexOf('=')
        if (at < 1 || at === pair.length - 1) throw new CliError(`--flow takes TRANSACTION=FLOW, got ${JSON.stringify(pair)}`)
        return [pair.slice(0, at), pair.slice(at + 1)]
      }),
    )
  }
  const print = (p: Project | Project[]) => out(values.json ? JSON.stringify(p, null, 2) : (Array.isArray(p) ? p : [p]).map(describe).join('\n\n'))

  if (values.help) {
    out(usage)
    return 0
  }
  if (group === 'gate') return gate(base, token, values, out, note)
  if (group === 'sourcemaps') return sourcemaps(base, values['upload-token'] ?? process.env.VIGIL_UPLOAD_TOKEN ?? token, command, arg, values, out)
  if (group === 'alert' && command === 'test') {
    const r = (await api(base, token, 'POST', '/v1/alerts/test', {})) as { sent: { notifier: string; ok: boolean; error?: string }[] }
    if (values.json) out(JSON.stringify(r, null, 2))
    else if (r.sent.length === 0) out('no notifier is configured (VIGIL_WEBHOOK_URL, VIGIL_SLACK_WEBHOOK_URL, VIGIL_PAGERDUTY_ROUTING_KEY, VIGIL_ALERTMANAGER_WEBHOOK_URL)')
    else for (const n of r.sent) out(`${n.notifier}: ${n.ok ? 'delivered' : `failed: ${n.error}`}`)
    return r.sent.length > 0 && r.sent.every((n) => n.ok) ? 0 : 1
  }
  if (group !== 'project' || !command) {
    out(usage)
    return 2
  }
  switch (command) {
    case 'list': {
      const { projects } = (await api(base, token, 'GET', '/v1/projects')) as { projects: Project[] }
      print(projects)
      return 0
    }
    case 'add': {
      if (!arg) throw new CliError('project add needs a name')
      print((await api(base, token, 'POST', '/v1/projects', { name: arg, id: values.id, origins: values.origin, rateLimit: number('rate-limit', values['rate-limit']), transactionFlows: flows(values.flow) })) as Project)
      return 0
    }
    case 'set': {
      if (!arg) throw new CliError('project set needs a project id')
      const change = { name: values.name, origins: values.origin, rateLimit: number('rate-limit', values['rate-limit']), transactionFlows: flows(values.flow) }
      print((await api(base, token, 'PATCH', `/v1/projects/${encodeURIComponent(arg)}`, change)) as Project)
      return 0
    }
    case 'rotate-upload-token': {
      if (!arg) throw new CliError('project rotate-upload-token needs a project id')
      print((await api(base, token, 'POST', `/v1/projects/${encodeURIComponent(arg)}/rotate-upload-token`)) as Project)
      return 0
    }
    case 'rotate-key': {
      if (!arg) throw new CliError('project rotate-key needs a project id')
      const graceHours = number('grace-hours', values['grace-hours'])
      print((await api(base, token, 'POST', `/v1/projects/${encodeURIComponent(arg)}/rotate-key`, graceHours === undefined ? {} : { graceHours })) as Project)
      return 0
    }
  }
  out(usage)
  return 2
}

/** `sourcemaps upload` and `sourcemaps list`. */
const sourcemaps = async (base: string, token: string | undefined, command: string | undefined, dir: string | undefined, values: Record<string, unknown>, out: (s: string) => void): Promise<number> => {
  const release = values.release as string | undefined
  const project = values.project as string | undefined
  if (!release) throw new CliError(`sourcemaps ${command ?? ''} needs --release`)
  if (command === 'list') {
    const q = new URLSearchParams({ release, ...(project ? { project } : {}) })
    const { maps } = (await api(base, token, 'GET', `/v1/sourcemaps?${q}`)) as { maps: { path: string; bytes: number; sources: number; uploaded: string }[] }
    if (values.json) out(JSON.stringify(maps, null, 2))
    else out(maps.length ? maps.map((m) => `${m.path}  ${Math.round(m.bytes / 1024)} KB, ${m.sources} sources, uploaded ${m.uploaded}`).join('\n') : `no source maps for ${release}`)
    return 0
  }
  if (command !== 'upload' || !dir) throw new CliError('usage: vigil sourcemaps upload --release R [--url-prefix /] [--project P] <dist dir>')
  let found
  try {
    found = await findSourceMaps(dir, (values['url-prefix'] as string | undefined) ?? '/')
  } catch (err) {
    throw new CliError(`cannot read ${dir}: ${(err as Error).message}`)
  }
  if (found.found.length === 0) throw new CliError(`no source maps in ${dir}: build with them (Vite: build.sourcemap: true or 'hidden'; webpack: devtool: 'source-map' or 'hidden-source-map')`)
  const results = await uploadSourceMaps(base, token, { release, project }, found.found)
  if (values.json) out(JSON.stringify({ uploaded: results, without: found.without }, null, 2))
  else {
    for (const r of results) out(`${r.ok ? 'uploaded' : 'FAILED  '}  ${r.url}  ${r.message}`)
    for (const w of found.without) out(`no map    ${w}`)
    const ok = results.filter((r) => r.ok).length
    out(`${ok} of ${results.length} source maps uploaded for ${release}${found.without.length ? ` (${found.without.length} scripts without a map)` : ''}`)
  }
  return results.every((r) => r.ok) ? 0 : 1
}

export const main = async () => {
  try {
    process.exitCode = await run(process.argv.slice(2), (s) => process.stdout.write(s + '\n'))
  } catch (err) {
    process.stderr.write(`vigil: ${err instanceof CliError ? err.message : String((err as Error).stack ?? err)}\n`)
    // For the gate, 1 means "bad release": a failure of its own is 3 ("no verdict") instead.
    process.exitCode = err instanceof CliError ? err.exitCode : process.argv[2] === 'gate' ? 3 : 1
  }
}
