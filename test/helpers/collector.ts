import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll } from 'vitest'
import { buildApp, type BuildOptions } from '../../collector/src/app.js'
import { loadConfig, type Config } from '../../collector/src/config.js'

export const tempDir = (prefix = 'vigil-test-'): { path: string; remove: () => void } => {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

export type Running = { app: FastifyInstance; url: string; close: () => Promise<void> }

/** A real collector on 127.0.0.1 and an ephemeral port, with embedded ClickHouse in `dataDir`. */
export const startCollector = async (overrides: Partial<Config>, options: BuildOptions = {}): Promise<Running> => {
  const config = loadConfig({}, { host: '127.0.0.1', port: 0, ...overrides })
  const app = await buildApp(config, options)
  const url = await app.listen({ host: config.host, port: config.port })
  return { app, url, close: () => app.close() }
}

/**
 * A collector for a describe block: started in a fresh temp dir before its tests, closed and its
 * dir removed after them. `c()` is the running collector.
 */
export const collectorForTests = (overrides: Partial<Config>, options: BuildOptions = {}): (() => Running) => {
  const dir = tempDir()
  let c: Running | undefined
  beforeAll(async () => {
    c = await startCollector({ dataDir: dir.path, ...overrides }, options)
  })
  afterAll(async () => {
    await c?.close()
    dir.remove()
  })
  return () => c!
}
