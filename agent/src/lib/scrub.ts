/**
 * Removes what should never leave the page by default: query strings and fragments of URLs
 * (they carry tokens, emails, ids), emails, and bearer tokens or passwords written as
 * `Bearer …`, `token=…`, `password: …`. Stacks keep their URLs whole (`keepQuery`): line and
 * column follow the URL there.
 */
export const scrub = (s: string, keepQuery?: boolean): string =>
  (keepQuery ? s : s.replace(/(\/\/[^\s?#'"]*)[?#][^\s'")]*/g, '$1'))
    .replace(/[\w.+-]+@[\w-]+\.[\w.-]+/g, '[email]')
    .replace(/(bearer|token|password)[\s:=]+[^\s&,;'")]+/gi, '$1 [redacted]')
