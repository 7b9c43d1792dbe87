/**
 * The per-session rollups' views (migration 3), and since migration 8 with the client's network
 * (`net`, the largest value a session's events carry: '' only when none has one).
 */
const withNet = (net: boolean) => (net ? ', max(net) AS net' : '')
export const flows = (from: string, net = false) => `SELECT project, env, release, session, name AS flow,
        min(ts) AS first_ts, max(ts) AS last_ts, count() AS attempts, countIf(outcome != 'ok') AS failures,
        maxIf(ts, outcome != 'ok') AS last_failure${withNet(net)}
      FROM ${from} WHERE kind = 'flow'
      GROUP BY project, env, release, session, flow`
export const health = (from: string, net = false) => `SELECT project, env, release, session,
        min(ts) AS first_ts, max(ts) AS last_ts,
        max((kind = 'error' AND handled = 0) OR (kind = 'session' AND outcome = 'crashed')) AS crashed,
        maxIf(ts, (kind = 'error' AND handled = 0) OR (kind = 'session' AND outcome = 'crashed')) AS last_crash${withNet(net)}
      FROM ${from}
      GROUP BY project, env, release, session`
export const errors = (from: string, net = false) => `SELECT project, env, release, session, fingerprint,
        min(ts) AS first_ts, max(ts) AS last_ts, count() AS events, min(handled) AS handled,
        any(name) AS type, any(message) AS message, any(stack) AS stack${withNet(net)}
      FROM ${from} WHERE kind = 'error'
      GROUP BY project, env, release, session, fingerprint`
