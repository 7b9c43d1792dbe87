import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { waitFor } from './waitFor.js'

/**
 * A collector in a child process (the built `dist/collector/main.js`, as `npm start` runs it) on
 * 127.0.0.1:`port` with its data in `dataDir`: a process a test can kill -9. Resolves once it answers.
 */
export const startCollectorProcess = async (dataDir: string, port: number, env: Record<string, string> = {}): Promise<ChildProcess> => {
  const child = spawn(process.execPath, [join(import.meta.dirname, '../../dist/collector/main.js')], {
    env: { ...process.env, VIGIL_PORT: String(port), VIGIL_DATA_DIR: dataDir, ...env },
    stdio: 'ignore',
  })
  await waitFor('the collector process to answer', async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 60_000)
  return child
}
