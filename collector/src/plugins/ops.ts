import type { FastifyInstance } from 'fastify'
import type { Core } from '../core.js'
import type { Detector } from '../detector/index.js'

export type OpsDeps = Pick<Core, 'config' | 'store' | 'spool' | 'quarantine' | 'drainer' | 'metrics' | 'drainLag' | 'untrustedForwards'> & {
  /** None on a collector that only takes events in (VIGIL_ROLE=ingest). */
  detector?: Pick<Detector, 'lag'>
}

/** What /healthz judges from, read once per request. */
const stateOf = async (deps: OpsDeps) => ({
  storageReachable: await deps.store.ping(),
  held: deps.quarantine.held(),
  failingFor: deps.drainer.failingFor(),
  waited: deps.drainLag(),
  look: deps.detector?.lag(),
  untrustedAt: deps.untrustedForwards.lastAt(),
})

/** What needs an operator now, one sentence each; none when all is well. */
const degradedReasons = (deps: OpsDeps, s: Awaited<ReturnType<typeof stateOf>>): string[] => [
  ...(s.storageReachable ? [] : ['storage is unreachable: events wait in the spool']),
  ...(s.failingFor > 60_000 ? [`storing has failed for ${Math.round(s.failingFor / 1000)} s: events wait in the spool`] : []),
  ...(s.held.last && Date.now() - s.held.last < 3600_000 ? [`ClickHouse refused rows in the last hour: ${s.held.rows} held in ${deps.quarantine.dir}`] : []),
  ...(deps.spool.bytes() > deps.config.spoolMaxBytes / 2 ? ['the spool is more than half full (VIGIL_SPOOL_MAX_MB)'] : []),
  ...(s.untrustedAt && Date.now() - s.untrustedAt < 3600_000
    ? ['X-Forwarded-For comes from a peer not in VIGIL_TRUST_PROXY: every client behind that proxy counts as one network, and no release can be judged bad on their failures']
    : []),
  ...(s.waited > 60_000 ? [`the oldest accepted event has waited ${Math.round(s.waited / 1000)} s for ClickHouse: the drain is behind`] : []),
  ...(s.look && s.look.sinceLastLook > 3 * s.look.intervalMs
    ? [`the detector's last look completed ${Math.round(s.look.sinceLastLook / 1000)} s ago (due every ${Math.round(s.look.intervalMs / 1000)} s): it is behind`]
    : []),
]

/**
 * `GET /healthz`: up (it answers) and, when something needs an operator, `degraded` with the
 * reasons. `GET /metrics`: the counters, for Prometheus.
 */
export const opsPlugin = (deps: OpsDeps) => async (app: FastifyInstance) => {
  const { store, spool, metrics } = deps
  app.get('/healthz', async () => {
    const s = await stateOf(deps)
    const reasons = degradedReasons(deps, s)
    return {
      status: reasons.length ? 'degraded' : 'ok',
      reasons,
      storage: store.mode,
      storageReachable: s.storageReachable,
      spoolBytes: spool.bytes(),
      spoolSegmentsPending: spool.sealed().length,
      drainLagSeconds: Math.round(s.waited / 1000),
      role: deps.config.role,
      ...(s.look ? { detectorLagSeconds: Math.round(s.look.sinceLastLook / 1000) } : {}),
      quarantinedRows: s.held.rows,
    }
  })

  app.get('/metrics', async (_req, reply) => {
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })
}
