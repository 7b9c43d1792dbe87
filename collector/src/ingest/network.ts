import { createHmac, randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import { isIP } from 'node:net'
import { join } from 'node:path'
import proxyAddr from '@fastify/proxy-addr'

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

const expandV6 = (ip: string): string[] => {
  const [head = '', tail = ''] = ip.split('::')
  const h = head ? head.split(':') : []
  const t = tail ? tail.split(':') : []
  return ip.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h
}

/** The network an address belongs to, as text; '' for loopback and what is not an address. */
export const networkOf = (address: string): string => {
  const ip = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address
  switch (isIP(ip)) {
    case 4:
      return ip.startsWith('127.') ? '' : ip.split('.').slice(0, 3).join('.') + '.0/24'
    case 6: {
      const groups = expandV6(ip.split('%')[0]!)
      if (groups.every((g, i) => (i < 7 ? Number.parseInt(g, 16) === 0 : Number.parseInt(g, 16) === 1))) return ''
      return groups.slice(0, 3).map((g) => Number.parseInt(g, 16).toString(16)).join(':') + '::/48'
    }
    default:
      return ''
  }
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

export const createNetworkOf = (dataDir: string, trust: ReturnType<typeof trustProxy>): NetworkOf => {
  const salt = saltOf(dataDir)
  return (req) => {
    const net = networkOf(proxyAddr(req, trust))
    return net && createHmac('sha256', salt).update(net).digest('hex').slice(0, 16)
  }
}
