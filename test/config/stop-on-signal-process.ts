// A process that stops through stopOnSignals: it prints "ready", and on a signal runs its stop,
// which prints "stopping" and then succeeds or, with the argument "fail", throws.
import { stopOnSignals } from '../../storage/settings/shutdown.ts';

const fail = process.argv[2] === 'fail';
let stops = 0;
stopOnSignals(async () => {
  stops++;
  process.stdout.write(`stopping ${stops}\n`);
  await new Promise((r) => setTimeout(r, 50));
  if (fail) throw new Error('the stop failed');
});
setInterval(() => undefined, 1000);
process.stdout.write('ready\n');
