import { createHmac, randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import { join } from 'node:path'
import proxyAddr from '@fastify/proxy-addr'
import ipaddr from 'ipaddr.js'

/**
 * Where a request comes from, as the detector weighs it: the client's network — an IPv4 /24 or
 * an IPv6 /48, the address a trusted proxy forwarded when the peer is one — as a salted hash.
 * The address itself is never stored, and the salt never leaves the data directory. A client on
 * this machine (loopback, with no trusted proxy in front) has no network: '' — each of its
 * sessions then stands on its own, as tests and local trials need.
 */
export type NetworkOf = (req: IncomingMessage) => string

/** The trust function for proxies (VIGIL_TRUST_PROXY: addresses, CIDRs, `loopback`, …). */
export const trustProxy = (list: string[]) => proxyAddr.compile(list)

/** What is not an address (a proxy that forwards junk): one network for all of it, never one each. */
const UNKNOWN = 'unknown'

/** The network an address belongs to, as text; '' for loopback (this machine). */
export const networkOf = (address: string): string => {
  // Dotted quads only (not the legacy `1.2.3`); IPv4-mapped and -compatible IPv6 addresses are their IPv4 address.
  if (!address.includes(':') && !ipaddr.IPv4.isValidFourPartDecimal(address)) return UNKNOWN
  let ip: ipaddr.IPv4 | ipaddr.IPv6
  try {
    ip = ipaddr.process(address)
  } catch {
    return UNKNOWN
  }
  if (ip.range() === 'loopback') return ''
  if (ip.kind() === 'ipv4') return `${(ip as ipaddr.IPv4).octets.slice(0, 3).join('.')}.0/24`
  const parts = (ip as ipaddr.IPv6).parts
  // NAT64 (64:ff9b::/96): the IPv4 address it carries.
  if (ip.range() === 'rfc6052') return `${parts[6]! >> 8}.${parts[6]! & 255}.${parts[7]! >> 8}.0/24`
  return `${parts.slice(0, 3).map((x) => x.toString(16)).join(':')}::/48`
}

/** The salt of this data directory, made once. */
const saltOf = (dataDir: string): Buffer => {
  const path = join(dataDir, 'network-salt')
  try {
    const salt = readFileSync(path)
    if (salt.length >= 16) return salt
  } catch {
    // Made below.
  }
  const salt = randomBytes(32)
  writeFileSync(path, salt, { mode: 0o600 })
  return salt
}

/**
 * The network of a request; `onUntrustedForward` is told of an X-Forwarded-For from a peer not
 * trusted (a proxy missing from VIGIL_TRUST_PROXY makes every client behind it one network).
 */
export const createNetworkOf = (dataDir: string, trust: ReturnType<typeof trustProxy>, onUntrustedForward: () => void): NetworkOf => {
  const salt = saltOf(dataDir)
  return (req) => {
    if (req.headers['x-forwarded-for'] !== undefined && !trust(req.socket.remoteAddress ?? '', 0)) onUntrustedForward()
    const net = networkOf(proxyAddr(req, trust))
    return net && createHmac('sha256', salt).update(net).digest('hex').slice(0, 16)
  }
}
