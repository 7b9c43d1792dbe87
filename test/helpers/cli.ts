import { execFile } from 'node:child_process'
import { join } from 'node:path'

/** Runs `bin/vigil.js` as a user would, against the collector at `url`. */
export const runCli = (url: string, args: string[], env: Record<string, string> = {}) =>
  new Promise<{ code: number; out: string; err: string }>((resolve) => {
    execFile(process.execPath, [join(import.meta.dirname, '../../bin/vigil.js'), ...args, '--url', url], { env: { ...process.env, ...env }, timeout: 60_000 }, (e, stdout, stderr) =>
      resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr }),
    )
  })
