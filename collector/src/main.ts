import { buildApp } from './app.js'
import { banner } from './banner.js'
import { isLoopback } from './auth.js'
import { loadConfig } from './config.js'

const fail = (what: string, err: unknown): never => {
  process.stderr.write(`\n  Vigil could not start: ${what}\n  ${err instanceof Error ? err.message : String(err)}\n\n`)
  process.exit(1)
}

const config = (() => {
  try {
    return loadConfig()
  } catch (err) {
    return fail('bad configuration', err)
  }
})()

// Without an admin token the dashboard and its APIs are open to whoever reaches them: then the
// collector listens on this machine only.
const requestedHost = config.host
if (!config.adminToken && !isLoopback(config.host)) config.host = '127.0.0.1'

const app = await buildApp(config).catch((err: unknown) =>
  fail(
    config.clickhouse
      ? `ClickHouse at ${config.clickhouse.url} is not usable (check CLICKHOUSE_URL, CLICKHOUSE_USER, CLICKHOUSE_PASSWORD)`
      : `embedded ClickHouse in ${config.dataDir} is not usable (is another collector using this VIGIL_DATA_DIR?)`,
    err,
  ),
)
// A fatal error (V8 out of memory, a failed assertion) aborts the process, and embedded
// ClickHouse's own SIGABRT handler would leave it asleep instead of ending it: a supervisor would
// never restart it. With this listener installed after ClickHouse's, abort() ends the process
// (the handler returns, so abort() raises the signal again with its default action), and a
// SIGABRT sent from outside ends it too.
process.on('SIGABRT', () => process.exit(134))
await app.listen({ host: config.host, port: config.port }).catch((err: unknown) => fail(`cannot listen on ${config.host}:${config.port} (set VIGIL_PORT)`, err))
process.stdout.write(banner(app.vigil, requestedHost) + '\n')

let closing = false
const shutdown = (signal: string) => {
  if (closing) return
  closing = true
  process.stdout.write(`\n  ${signal}: stopping…\n`)
  app.close().then(
    () => process.exit(0),
    (err: unknown) => fail('clean shutdown failed', err),
  )
}
process.on('SIGINT', () => shutdown('SIGINT'))
process.on('SIGTERM', () => shutdown('SIGTERM'))
