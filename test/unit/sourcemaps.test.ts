/**
 * Source maps as they are uploaded: what the parser refuses (so that no later lookup in a stored
 * map can throw and stop storage), and what symbolication does with frames a map cannot place.
 */
import { describe, expect, it } from 'vitest'
import { symbolicate, groupingSource, type MapFor } from '../../collector/src/grouping/symbolicate.js'
import { loadedMap, parseSourceMap } from '../../collector/src/sourcemaps/parse.js'

const base = { version: 3, file: 'app.js', names: [] as unknown[], sources: ['src/a.js'] as unknown[], sourcesContent: ['let a = 1'] as unknown[], mappings: 'AAAA' }

describe('source maps', () => {
  it('refuses maps whose lookups would trip later', () => {
    const refused: [string, object][] = [
      ['ignoreList not a list', { ...base, ignoreList: 5 }],
      ['ignoreList out of range', { ...base, x_google_ignoreList: [3] }],
      ['source content not text', { ...base, sourcesContent: [5] }],
      ['a mapping past the sources', { ...base, mappings: 'AKAA' }],
      ['a mapping before the sources', { ...base, mappings: 'ADAA' }],
      ['a mapping past the names', { ...base, mappings: 'AAAAC' }],
      ['a name not text', { ...base, names: [5], mappings: 'AAAAA' }],
      ['a section with a bad mapping', { version: 3, sections: [{ offset: { line: 0, column: 0 }, map: { ...base, mappings: 'AKAA' } }] }],
      ['not version 3', { ...base, version: 2 }],
      ['no mappings', { version: 3, sources: [] }],
    ]
    for (const [why, map] of refused) expect(() => parseSourceMap(JSON.stringify(map)), why).toThrow()
    expect(() => parseSourceMap('{"version":3,')).toThrow(/not JSON/)
    expect(parseSourceMap(JSON.stringify({ ...base, names: ['a'], mappings: 'AAAAA', ignoreList: [0] })).sources).toEqual(['src/a.js'])
  })

  it('leaves frames a map cannot place where the stack says, whatever their numbers', async () => {
    const loaded = loadedMap(parseSourceMap(JSON.stringify(base)))
    const mapFor: MapFor = async () => loaded
    const stack = ['E: x', ...['0:0', '-1:5', '1:-3', `${'9'.repeat(400)}:1`, '1e5:2', '99999:99999', '1:1'].map((p) => `    at f (https://x.example/app.js:${p})`)].join('\n')
    const frames = await symbolicate(stack, 'https://x.example/', mapFor)
    expect(frames.at(-1)).toMatchObject({ file: 'src/a.js', line: 1, mapped: true })
    expect(frames.slice(0, -1).every((f) => !f.mapped)).toBe(true)
    // A frame of the app above it that the map cannot place: the stack's group stays.
    expect(await groupingSource(stack, 'https://x.example/', mapFor)).toBeUndefined()
    expect(await groupingSource('E: x\n    at f (https://x.example/app.js:1:1)', 'https://x.example/', mapFor)).toEqual({ file: 'src/a.js', code: 'let a = 1' })
  })
})
