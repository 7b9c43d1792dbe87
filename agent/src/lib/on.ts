import { g } from './global'

/** `addEventListener` on the global, when the runtime has one (browsers, not Node). */
export const on = (type: string, fn: (ev: never) => void): void => {
  if (g.addEventListener) g.addEventListener(type, fn)
}
