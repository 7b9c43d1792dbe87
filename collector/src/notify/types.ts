import type { AlertPayload } from '../detector/payload.js'

/** A message to on-call about one alert's change of state. */
export type AlertMessage = {
  /** Stable per alert and state (the same on every attempt, and after a restart), so a receiver can drop a redelivery. */
  id: string
  /** e.g. `release.regression.firing` */
  type: string
  /** When the state changed, epoch ms. */
  at: number
  /**
   * The alert's payload. A message not from the detector may carry less: a test alert (`vigil
   * alert test`) has only what names the alert and the line to read, and says it is a test.
   */
  data: Pick<AlertPayload, 'alert_id' | 'status' | 'severity' | 'summary' | 'project' | 'environment' | 'release' | 'rule' | 'subject'> &
    Partial<AlertPayload> & { test?: true }
}

/** A way to reach on-call. Notifiers are small plugins with a name. */
export type Notifier = {
  name: string
  /**
   * Resolves when delivered; throws when the receiver refused or could not be reached. `signal`
   * aborts the attempt (its timeout, or the collector stopping): pass it to the request.
   */
  send: (msg: AlertMessage, signal: AbortSignal) => Promise<void>
}
