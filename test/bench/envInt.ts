/** A whole number from the environment, within bounds, or the default. */
export const envInt = (name: string, dflt: number, min: number, max: number): number => {
  const v = process.env[name]
  if (v === undefined || v === '') return dflt
  const n = Number(v)
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`)
  return n
}
