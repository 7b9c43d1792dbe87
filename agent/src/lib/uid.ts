/** A random id of 16 hex characters. */
export const uid = (): string => {
  let s = ''
  const c = typeof crypto !== 'undefined' && crypto.getRandomValues ? crypto.getRandomValues(new Uint8Array(8)) : 0
  for (let i = 0; i < 8; i++) s += ((c ? c[i]! : (Math.random() * 256) | 0) + 256).toString(16).slice(1)
  return s
}
