// `node --import ./sdk/js/tools/resolve-sdk.mjs --test ...`: resolve `@sandkit/sdk` (and
// `@sandkit/sdk/testing`) to this checkout's SDK, as an installed package would be, so the
// SDK's tests and the bundled example plugins run on plain node without an npm install.
import { register } from 'node:module';

register('./resolve-hooks.mjs', import.meta.url);
