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

/**
 * Runs a benchmark's body, then cleans up (10 s at most), removes its temporary directory and
 * exits, 1 when the body failed: chDB or a stray handle must not keep it alive once it has printed.
 */
export const runToEnd = async (name: string, body: () => Promise<void>, end: { cleanup: () => Promise<void>; dir: { remove: () => void }; deadline: NodeJS.Timeout }) => {
  try {
    await body()
  } catch (err) {
    console.error(`${name} failed:`, err)
    process.exitCode = 1
  } finally {
    await Promise.race([end.cleanup(), new Promise((r) => setTimeout(r, 10_000))])
    end.dir.remove()
    clearTimeout(end.deadline)
  }
  process.exit(process.exitCode ?? 0)
}
