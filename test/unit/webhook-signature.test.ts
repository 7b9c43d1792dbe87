import { describe, expect, it } from 'vitest'
import { signWebhook } from '../../collector/src/notify/webhook.js'

describe('Standard Webhooks signature', () => {
  it('matches the specification test vector', () => {
    // The example used across the Standard Webhooks reference libraries.
    const sig = signWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')
    expect(sig).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=')
  })
})
