// The uWebSockets.js build pinned in package.json has native binaries for Node 16 to 20 only;
// on a newer Node it falls back to a JavaScript imitation that hyper-express cannot serve with
// ("Not implemented"). npm start checks first and says what to do.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Null when uWebSockets.js has a native binary for this Node, else what to do about it. */
export function uwsProblem(): string | null {
  const main = dirname(fileURLToPath(import.meta.resolve('uWebSockets.js')));
  const binary = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  // official releases keep the binaries beside uws.js; the pinned build in binaries/
  if ([join(main, binary), join(main, '..', 'binaries', binary)].some((f) => existsSync(f))) return null;
  return (
    `the installed uWebSockets.js has no ${binary} for Node ${process.version}, and the storage nodes and the gateway serve through it. ` +
    'The build pinned in package.json runs on Node 20: use Node 20, or, on glibc 2.38 or newer, hyper-express 6.18 or 7.x with a current uWebSockets.js (docs/operations.md, Node versions).'
  );
}
