import { rmSync } from 'node:fs'

/**
 * Stops a benchmark still running after `ms`: cleans up what it can (5 s at most), removes its
 * temporary directory, exits 1. Benchmarks stop by themselves, even when something hangs.
 */
export const watchdog = (name: string, ms: number, cleanup: () => Promise<void>, dir: string): NodeJS.Timeout =>
  setTimeout(() => {
    console.error(`${name}: still running after ${ms / 1000} s, stopping`)
    void Promise.race([cleanup(), new Promise((r) => setTimeout(r, 5000))]).finally(() => {
      rmSync(dir, { recursive: true, force: true })
      process.exit(1)
    })
  }, ms)
