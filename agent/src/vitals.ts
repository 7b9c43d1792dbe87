/**
 * `vitals.js`: LCP, INP, CLS, FCP and TTFB from the `web-vitals` package, reported through the
 * core's `vigil.vital`. Loaded by the core after the page has loaded, so the core stays small.
 */
import { onCLS, onFCP, onINP, onLCP, onTTFB, type Metric } from 'web-vitals'

const report = (m: Metric) => {
  try {
    ;(window as unknown as { vigil: { vital: (n: string, v: number) => void } }).vigil.vital(m.name, m.value)
  } catch {
    // No agent on this page.
  }
}
onLCP(report)
onINP(report)
onCLS(report)
onFCP(report)
onTTFB(report)
