// `node --import ./test/bench/register.mjs some.ts`: runs the repo's TypeScript as it is (ESM,
// NodeNext `.js` specifiers naming `.ts` files) on Node 20, which has no type stripping. Each
// .ts file is transformed on its own by esbuild (a devDependency); nothing is written to disk.
import { register } from 'node:module'

register('./ts-hooks.mjs', import.meta.url)
