/** A counter's value in a running collector's /metrics: `name{labels}` as Prometheus prints it; 0 when it has none yet. */
export const metricValue = async (url: string, name: string, labels: string): Promise<number> => {
  const line = (await (await fetch(`${url}/metrics`)).text()).split('\n').find((l) => l.startsWith(`${name}{${labels}}`))
  return line ? Number(line.split(' ').pop()) : 0
}
