import uPlot from 'uplot'
import { pct } from './format.js'
import type { Series } from './types.js'

/**
 * One flow's failure rate per step on this release (red) against its baseline (grey, dashed),
 * drawn with uPlot: ~50 KB, canvas, thousands of points without effort. A chart is made once
 * and given new data on every refresh, so a live update does not redraw the page.
 */
export type FlowChart = { node: HTMLElement; update: (s: Series) => void; resize: () => void; destroy: () => void }

const data = (s: Series): uPlot.AlignedData => [s.t, s.rate, s.baseline]

export const flowChart = (s: Series, release: string): FlowChart => {
  const node = document.createElement('div')
  node.className = 'chart'
  const width = () => Math.max(320, (node.parentElement?.clientWidth ?? 640) - 16)
  const opts: uPlot.Options = {
    width: 640,
    height: 180,
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(0.05, max * 1.15)] } },
    axes: [{}, { values: (_u, ticks) => ticks.map((v) => `${Math.round(v * 1000) / 10}%`), size: 56 }],
    series: [
      {},
      { label: release, stroke: '#d93025', width: 2, points: { show: true, size: 5 }, value: (_u, v) => pct(v) },
      { label: 'baseline', stroke: '#5f6b7a', width: 1.5, dash: [5, 4], points: { show: true, size: 4 }, value: (_u, v) => pct(v) },
    ],
  }
  const plot = new uPlot(opts, data(s), node)
  const resize = () => plot.setSize({ width: width(), height: 180 })
  // Sized to its card once it is in the page (the view resizes it when the window changes).
  requestAnimationFrame(resize)
  return { node, update: (next) => plot.setData(data(next)), resize, destroy: () => plot.destroy() }
}
