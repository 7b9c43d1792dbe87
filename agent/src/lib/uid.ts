import { now } from './now'

/**
 * A random id (batch, session, flow). Not a secret and not crypto-grade: two Math.random draws
 * and the clock make a collision among one project's ids vanishingly unlikely, in fewer bytes.
 */
export const uid = (): string => (Math.random() * 2 ** 53).toString(36) + now().toString(36)
