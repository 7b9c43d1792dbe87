/** The page URL without query or fragment: they carry tokens, emails and ids. */
export const pageUrl = (): string | undefined =>
  typeof location !== 'undefined' ? location.origin + location.pathname : undefined
