/**
 * Runs `fn`, swallowing anything it throws: the agent must never break the page that hosts it,
 * nor print to its console.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const safe = <A extends any[], R>(fn: (...args: A) => R) =>
  (...args: A): R | undefined => {
    try {
      return fn(...args)
    } catch {
      // Swallowed: undefined.
    }
  }
