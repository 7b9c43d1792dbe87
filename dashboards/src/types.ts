/** The collector's answers the page reads (collector/src/views.ts): types only, nothing of the collector is bundled. */
import type { Overview, ReleaseDetail } from '../../collector/src/readModels.js'

export type { Overview, ReleaseDetail }
export type ReleaseRow = Overview['releases'][number]
export type Verdict = ReleaseRow['verdict']
/** What the page's selectors offer. */
export type Choices = Pick<Overview, 'projects' | 'environments'>
export type Series = ReleaseDetail['series'][number]
export type ErrorGroup = ReleaseDetail['error_groups'][number]
export type AlertItem = ReleaseDetail['alerts'][number]
