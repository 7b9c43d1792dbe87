import { el } from './dom.js'
import type { Verdict } from './types.js'

export const badge = (v: Verdict): HTMLElement => el('span', { class: `badge ${v}`, data: { verdict: v } }, v)
