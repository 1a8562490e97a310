// The real world behind the runtime interfaces: the process clock and crypto randomness (the
// processes' logger is in logging.ts).
import { randomInt } from 'node:crypto';
import type { Clock, Random } from '../client/src/runtime.ts';

export const realClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

export const cryptoRandom: Random = {
  float: () => randomInt(0, 2 ** 47) / 2 ** 47,
};
