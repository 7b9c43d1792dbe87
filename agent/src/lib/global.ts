/** The global object, typed loosely: the agent runs where `window`, `document` or `navigator` may be missing. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const g: any = globalThis
