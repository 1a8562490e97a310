// The node's side of live watches (storage/watch/watches.ts) over a map standing for what the
// replica holds: answered at once when a key already has news, held until one is stored,
// superseded by a newer poll from the same watcher, answered empty when the wait runs out or
// the node stops, and bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contextOf, type SiblingSet, type Version } from '../../client/src/core/siblings.ts';
import { EMPTY_VV } from '../../client/src/core/version-vector.ts';
import { realClock } from '../../storage/real-runtime.ts';
import type { WatchReply } from '../../client/src/protocol/messages.ts';
import { isNews, Watches } from '../../storage/watch/watches.ts';

const version = (actor: string, counter: number, past: SiblingSet = []): Version => ({
  dot: { actor, counter },
  past: contextOf(past),
  deleted: false,
  writtenAt: 0,
  value: new Uint8Array([counter]),
});

function node() {
  const held = new Map<string, SiblingSet>();
  const watches = new Watches((key) => held.get(key) ?? [], realClock);
  const store = (key: string, set: SiblingSet) => {
    held.set(key, set);
    watches.stored(key);
  };
  return { held, watches, store };
}

/** Whether the promise has settled, without waiting on it. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending');
  return (await Promise.race([p, Promise.resolve(marker)])) !== marker;
}

test('isNews: a version the context does not cover', () => {
  const a = version('n1@x', 1);
  const b = version('n1@x', 2, [a]);
  assert.equal(isNews(EMPTY_VV, []), false);
  assert.equal(isNews(EMPTY_VV, [a]), true);
  assert.equal(isNews(contextOf([a]), [a]), false);
  assert.equal(isNews(contextOf([a]), [b]), true);
  assert.equal(isNews(contextOf([b]), [a]), false, 'an older version is no news');
});

test('a key that already has news is answered at once, with everything the node holds for it', async () => {
  const { watches, held } = node();
  const a = version('n1@x', 1);
  held.set('k', [a]);
  held.set('other', [version('n2@y', 1)]);
  const reply = await watches.watch(null, {
    type: 'watch',
    watcher: 'g/0',
    waitMs: 10_000,
    keys: [
      { key: 'k', seen: EMPTY_VV },
      { key: 'other', seen: contextOf(held.get('other')!) },
    ],
  });
  assert.deepEqual(reply.changed, [{ key: 'k', set: [a] }]);
  assert.equal(watches.held, 0);
});

test('a poll with nothing new is held until a version it lacks is stored; one it has seen does not answer it', async () => {
  const { watches, held, store } = node();
  const a = version('n1@x', 1);
  held.set('k', [a]);
  const poll = watches.watch(null, { type: 'watch', watcher: 'g/0', waitMs: 10_000, keys: [{ key: 'k', seen: contextOf([a]) }] });
  assert.equal(watches.held, 1);
  store('k', [a]);
  store('unwatched', [version('n1@x', 9)]);
  assert.equal(await settled(poll), false);
  const b = version('n1@x', 2, [a]);
  store('k', [b]);
  assert.deepEqual((await poll).changed, [{ key: 'k', set: [b] }]);
  assert.equal(watches.held, 0);
});

test('a newer poll from the same watcher and caller answers the older with nothing; other watchers are separate', async () => {
  const { watches } = node();
  const keys = [{ key: 'k', seen: EMPTY_VV }];
  const older = watches.watch(null, { type: 'watch', watcher: 'g/0', waitMs: 10_000, keys });
  const otherCaller = watches.watch('n2', { type: 'watch', watcher: 'g/0', waitMs: 10_000, keys });
  const newer = watches.watch(null, { type: 'watch', watcher: 'g/0', waitMs: 10_000, keys });
  assert.deepEqual((await older).changed, []);
  assert.equal(await settled(otherCaller), false);
  assert.equal(watches.held, 2);
  watches.close();
  assert.deepEqual([(await newer).changed, (await otherCaller).changed], [[], []]);
});

test('the wait runs out: answered with nothing; a stopped node answers every poll, and later ones at once', async () => {
  const { watches } = node();
  const started = performance.now();
  const reply: WatchReply = await watches.watch(null, { type: 'watch', watcher: 'g/0', waitMs: 50, keys: [{ key: 'k', seen: EMPTY_VV }] });
  assert.deepEqual(reply.changed, []);
  assert.ok(performance.now() - started >= 45);
  watches.close();
  assert.deepEqual(
    (await watches.watch(null, { type: 'watch', watcher: 'g/1', waitMs: 10_000, keys: [{ key: 'k', seen: EMPTY_VV }] })).changed,
    [],
  );
  assert.equal(watches.held, 0);
});
