import { execFile } from 'node:child_process'
import { join } from 'node:path'

/**
 * Runs `bin/vigil.js` as a user would, against the collector at `url`. The promise carries the
 * `child`, so a test can watch its output while it runs.
 */
export const runCli = (url: string, args: string[], env: Record<string, string> = {}) => {
  let child!: ReturnType<typeof execFile>
  const done = new Promise<{ code: number; out: string; err: string }>((resolve) => {
    child = execFile(process.execPath, [join(import.meta.dirname, '../../bin/vigil.js'), ...args, '--url', url], { env: { ...process.env, ...env }, timeout: 60_000 }, (e, stdout, stderr) =>
      resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr }),
    )
  })
  return Object.assign(done, { child })
}
