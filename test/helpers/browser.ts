import { chromium, type Browser } from 'playwright-core'

/**
 * The system's Chromium (`apt-get install -y chromium`), never a downloaded one. Background
 * networking is off: this machine has no network but loopback. `args` adds switches (e.g.
 * `--host-resolver-rules` to give this machine more names).
 */
export const launchChromium = (args: string[] = []): Promise<Browser> =>
  chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...args,
    ],
  })
