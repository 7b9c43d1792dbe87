// @ts-expect-error plain ESM script without types
import { build } from '../../scripts/build.mjs'

export default async function setup() {
  await (build as () => Promise<void>)()
}
