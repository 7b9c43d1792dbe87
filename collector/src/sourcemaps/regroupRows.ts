import { untsv } from '../ingest/rowTsv.js'
import { ROW_COLUMNS } from '../store/index.js'

const at = (column: (typeof ROW_COLUMNS)[number]) => ROW_COLUMNS.indexOf(column)
const [PROJECT, RELEASE, KIND, NAME, MESSAGE, STACK, FINGERPRINT, URL] = (['project', 'release', 'kind', 'name', 'message', 'stack', 'fingerprint', 'url'] as const).map(at) as number[] as [number, number, number, number, number, number, number, number]

export type Regroup = (project: string, release: string, type: string, message: string, stack: string, pageUrl: string) => Promise<string | undefined>

/**
 * A drain stage, between the spool and ClickHouse (so never on the way to a 202): the error rows
 * of releases with source maps get the group their original source gives, and keep the one their
 * stack gave as a last column (`stack_fingerprint`); every other row goes as it is.
 */
export const regroupRows = async (text: string, regroup: Regroup): Promise<string> => {
  if (!text.includes('\terror\t')) return text
  const lines = text.split('\n')
  let changed = false
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    let tab = -1
    for (let c = 0; c < KIND; c++) if ((tab = line.indexOf('\t', tab + 1)) < 0) break
    if (tab < 0 || !line.startsWith('error\t', tab + 1)) continue
    const f = line.split('\t')
    if (f.length !== ROW_COLUMNS.length) continue
    const fingerprint = await regroup(untsv(f[PROJECT]), untsv(f[RELEASE]), untsv(f[NAME]), untsv(f[MESSAGE]), untsv(f[STACK]), untsv(f[URL]))
    if (!fingerprint) continue
    const stackFingerprint = f[FINGERPRINT]
    f[FINGERPRINT] = fingerprint
    lines[i] = `${f.join('\t')}\t${stackFingerprint}`
    changed = true
  }
  return changed ? lines.join('\n') : text
}
