/** The last part of a URL path: `/assets/index-Dqm-mHPd.js` → `index-Dqm-mHPd.js`. */
export const fileNameOf = (path: string): string => path.slice(path.lastIndexOf('/') + 1)

/**
 * A script's file name as it stays from build to build: without directory, query, and the
 * content hashes and chunk ids bundlers put in names. What is cut must not depend on the hash's
 * own characters (a rule that needed a digit in the hash would keep one build's hash in one
 * release in four hundred, and split its groups), so each rule cuts by position and alphabet:
 *
 * - Vite, Rollup, Rolldown, SvelteKit: `index-Dqm-mHPd.js`, `index.BtU9x8Yk.js` (8 base64url
 *   characters, `-` and `_` included), esbuild and Angular: `chunk-JBCXK7FF.js` (8 base32)
 * - webpack: `main.c0ac7c771c5ad0cee0ce.js`, `787.2c1f3a4b.chunk.js` (hex, numeric chunk ids),
 *   Parcel `index.3d5c4a9f.js`, Next.js `_app-0c7baedefba6b077.js`, `framework-….js`, Gatsby
 * - names that are a hash or an id alone (Turbopack, Nuxt, webpack's numeric chunks) → `<chunk>`
 *
 * A part of a real name may go with the hash (`chart-lightbox.js` → `chart.js`, a name that ends
 * in 8 letters after a dash): always the same part, so groups stay stable; only two such files'
 * errors may share a key.
 */
export const stableFileName = (path: string): string => {
  const name = fileNameOf(path)
  const ext = /(?:\.(?:chunk|bundle|min|prod|production))*\.(?:[cm]?js|jsx|tsx?)$/i.exec(name)
  let base = ext ? name.slice(0, ext.index) : name
  const suffix = ext ? ext[0].slice(ext[0].lastIndexOf('.')) : ''
  // One rule or the other, never both (a hash that happens to be all hex must cut what any other
  // hash cuts): a hex hash of 8 or more, else 8 characters of any bundler's alphabet.
  const hex = base.replace(/^(.+?)[.-][0-9a-f]{8,}$/i, '$1')
  base = hex !== base ? hex : base.replace(/^(.+)[.-][\w-]{8}$/, '$1')
  if (/^(?:\d+|[0-9a-f]{8,})$/i.test(base) || (/\/(?:_nuxt|_next|immutable)\//.test(path) && /^[\w-]{8}$/.test(base))) base = '<chunk>'
  return base + suffix
}
