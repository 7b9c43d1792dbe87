import { createServer, type AddressInfo } from 'node:net'

/** A port on 127.0.0.1 that was free a moment ago (and is closed now: nothing listens there). */
export const freePort = async (): Promise<number> => {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const { port } = s.address() as AddressInfo
  await new Promise((r) => s.close(r))
  return port
}
