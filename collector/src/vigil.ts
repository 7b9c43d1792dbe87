import type { Config } from './config.js'
import type { Core } from './core.js'
import type { Detector } from './detector/index.js'
import type { Metrics } from './metrics.js'
import type { Outbox } from './notify/outbox.js'
import type { Notifier } from './notify/types.js'
import type { ProjectRegistry } from './projects.js'
import type { SourceMaps } from './sourcemaps/cache.js'
import type { Drainer } from './spool/drainer.js'
import type { Spool } from './spool/spool.js'
import type { Project, Store } from './store/index.js'

/** What the collector shows of itself as `app.vigil`: to the CLI's banner and to tests. */
export type Vigil = {
  config: Config
  store: Store
  spool: Spool
  drainer: Drainer
  detector: Detector
  outbox: Outbox
  notifiers: Notifier[]
  metrics: Metrics
  projects: ProjectRegistry
  sourcemaps: SourceMaps
  /** A release's stack with its original frames, as the pages show it (core.ts). */
  symbolicate: Core['symbolicate']
  defaultProject: Project
  /** The URL browsers use to reach this collector (known once it listens). */
  publicUrl: () => string
  /** Resolves once everything accepted so far is in ClickHouse (tests, shutdown). */
  stored: () => Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    vigil: Vigil
  }
}
