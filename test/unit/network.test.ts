import { describe, expect, it } from 'vitest'
import { networkOf } from '../../collector/src/ingest/network.js'

describe("a client's network", () => {
  it('is its IPv4 /24 or IPv6 /48, the IPv4 one for addresses that carry one; none for this machine; one for all junk', () => {
    const cases: [string, string][] = [
      ['203.0.113.7', '203.0.113.0/24'],
      ['::ffff:203.0.113.7', '203.0.113.0/24'],
      ['::FFFF:203.0.113.99', '203.0.113.0/24'],
      ['64:ff9b::cb00:7107', '203.0.113.0/24'],
      ['2001:db8:1:2::5', '2001:db8:1::/48'],
      ['2001:DB8:1:ffff::9', '2001:db8:1::/48'],
      ['127.0.0.1', ''],
      ['127.8.9.10', ''],
      ['::1', ''],
      ['garbage', 'unknown'],
      ['', 'unknown'],
      ['1.2.3', 'unknown'],
    ]
    for (const [address, net] of cases) expect([address, networkOf(address)]).toEqual([address, net])
  })
})
