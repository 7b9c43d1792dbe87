import { readFile } from 'node:fs/promises'

const cache = new Map<string, Promise<Buffer>>()

/**
 * A built file (dist/): read once, then served from memory — `vigil.js` goes out on every page
 * load of every site that has the tag. A file that is missing is looked for again next time.
 * (After `npm run build`, restart the collector to serve the new files.)
 */
export const readBuilt = (path: string): Promise<Buffer> => {
  let file = cache.get(path)
  if (!file) {
    file = readFile(path)
    cache.set(path, file)
    file.catch(() => cache.delete(path))
  }
  return file
}
