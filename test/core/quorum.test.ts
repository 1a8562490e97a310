// The pure quorum accumulators (riak_kv's get_core and put_core shapes) against naive counting
// models, over random targets (primaries, fallbacks, replicas a range is moving to), spares and
// sequences of replies, failures and timeouts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PutCore, type PutState } from '../../storage/core/put-core.ts';
import { GetCore } from '../../storage/core/get-core.ts';
import { merge, type SiblingSet } from '../../client/src/core/siblings.ts';
import type { Target } from '../../client/src/core/preference.ts';

const NODES = ['a', 'b', 'c', 'd', 'e', 'f', 'g'] as const;
const targetsArb = fc
  .uniqueArray(fc.record({ node: fc.constantFrom(...NODES), primary: fc.boolean(), pending: fc.boolean() }), {
    selector: (t) => t.node,
    minLength: 1,
    maxLength: 5,
  })
  .map((ts) =>
    ts.map((t): Target => ({
      node: t.node,
      primary: t.primary && !t.pending,
      ...(t.pending ? { pending: true } : {}),
      ...(!t.primary && !t.pending ? { hintFor: `p-${t.node}` } : {}),
    })),
  );
type Event = { kind: 'ack' | 'fail'; node: string } | { kind: 'timeout' };
const eventArb: fc.Arbitrary<Event> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ kind: fc.constantFrom('ack' as const, 'fail' as const), node: fc.constantFrom(...NODES) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'timeout' as const }) },
);

/** What a write's quorum is, counted the naive way: slots that hold a target, filled in turn by spares. */
class NaivePut {
  slots: { node: string; primary: boolean; state: 'open' | 'acked' | 'failed' }[];
  pendingTargets: { node: string; state: 'open' | 'acked' | 'failed' }[];
  spares: string[];
  decided: PutState = 'pending';

  readonly w: number;
  readonly pw: number;
  constructor(
    targets: readonly Target[],
    spares: readonly string[],
    w: number,
    pw: number,
  ) {
    this.w = w;
    this.pw = pw;
    this.slots = targets.filter((t) => !t.pending).map((t) => ({ node: t.node, primary: t.primary, state: 'open' }));
    this.pendingTargets = targets.filter((t) => t.pending).map((t) => ({ node: t.node, state: 'open' }));
    this.spares = spares.filter((s) => !targets.some((t) => t.node === s));
    this.decide();
  }

  all() {
    return [...this.slots, ...this.pendingTargets];
  }

  apply(e: Event): void {
    if (e.kind === 'timeout') {
      for (const s of this.all()) if (s.state === 'open') s.state = 'failed';
    } else {
      // every entry for the node answers (a node can be a target once, or be a spare taken in)
      const open = this.all().filter((s) => s.node === e.node && s.state === 'open');
      if (open.length === 0) return this.decide();
      for (const s of open) s.state = e.kind === 'ack' ? 'acked' : 'failed';
      if (e.kind === 'fail') {
        const spare = this.spares.shift();
        if (spare !== undefined) {
          if (this.slots.some((s) => s.node === e.node)) this.slots.push({ node: spare, primary: false, state: 'open' });
          else this.pendingTargets.push({ node: spare, state: 'open' });
        }
      }
    }
    this.decide();
  }

  get complete(): boolean {
    return this.all().every((s) => s.state !== 'open');
  }

  decide(): void {
    if (this.decided !== 'pending') return;
    const acks = this.slots.filter((s) => s.state === 'acked').length;
    const open = this.slots.filter((s) => s.state === 'open').length;
    const primaryAcks = this.slots.filter((s) => s.primary && s.state === 'acked').length;
    const primaryOpen = this.slots.filter((s) => s.primary && s.state === 'open').length;
    if (acks >= this.w && primaryAcks >= this.pw) this.decided = 'ok';
    else if (acks + open < this.w || primaryAcks + primaryOpen < this.pw) this.decided = 'failed';
  }
}

test('put core: decides exactly as the naive slot count does, replaces a failed replica with the next spare, and is never complete and undecided', () => {
  let decidedOk = 0;
  let decidedFailed = 0;
  fc.assert(
    fc.property(
      targetsArb,
      fc.uniqueArray(fc.constantFrom(...NODES), { maxLength: 3 }),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 0, max: 2 }),
      fc.array(eventArb, { maxLength: 25 }),
      (targets, spares, w, pw, events) => {
        const core = new PutCore(targets, spares, w, pw);
        const naive = new NaivePut(targets, spares, w, pw);
        assert.equal(core.state, naive.decided);
        for (const e of events) {
          if (e.kind === 'timeout') core.timeout();
          else if (e.kind === 'ack') core.addAck(e.node);
          else {
            const failedTarget = core.targets.find((t) => t.node === e.node);
            const replacement = core.addFailure(e.node);
            if (replacement && failedTarget) {
              assert.equal(replacement.primary, false);
              assert.equal(replacement.hintFor, failedTarget.hintFor ?? failedTarget.node);
              assert.equal(replacement.pending === true, failedTarget.pending === true);
            }
          }
          naive.apply(e);
          assert.equal(core.state, naive.decided, `after ${JSON.stringify(e)}`);
          assert.equal(core.complete, naive.complete);
          if (core.complete) assert.notEqual(core.state, 'pending', 'every target answered, yet the write waits');
        }
        if (core.state === 'ok') decidedOk++;
        if (core.state === 'failed') decidedFailed++;
      },
    ),
    { numRuns: 3000 },
  );
  assert.ok(decidedOk > 100 && decidedFailed > 100, `${decidedOk} ok, ${decidedFailed} failed`);
});

test('put core: every target answering leaves the write decided, even with spares nobody needed (a write once waited for ever here)', () => {
  const core = new PutCore([{ node: 'self', primary: true }], ['spare'], 2, 0);
  core.addAck('self');
  assert.ok(core.complete);
  assert.equal(core.state, 'failed');
  assert.deepEqual(core.shortfall(), { needed: 2, got: 1, primaryNeeded: 0, primaryGot: 1 });
});

const setArb: fc.Arbitrary<SiblingSet> = fc
  .uniqueArray(fc.record({ actor: fc.constantFrom('x', 'y'), counter: fc.integer({ min: 1, max: 4 }) }), {
    selector: (d) => `${d.actor}${d.counter}`,
    maxLength: 3,
  })
  .map((dots) =>
    dots
      .map((dot) => ({ dot, past: new Map(), deleted: false, writtenAt: 0, value: new Uint8Array() }))
      .sort((a, b) => (a.dot.actor + a.dot.counter < b.dot.actor + b.dot.counter ? -1 : 1)),
  );

/** What a read's quorum is, counted the naive way: R answers (PR of them primaries), or too few targets left open to get them. */
function naiveRead(
  targets: readonly Target[],
  r: number,
  pr: number,
  answers: { has(node: string): boolean; readonly size: number },
  failed: ReadonlySet<string>,
): 'pending' | 'ok' | 'failed' {
  const open = targets.filter((t) => !answers.has(t.node) && !failed.has(t.node));
  const primaries = targets.filter((t) => t.primary && answers.has(t.node)).length;
  if (answers.size >= r && primaries >= pr) return 'ok';
  if (answers.size + open.length < r || primaries + open.filter((t) => t.primary).length < pr) return 'failed';
  return 'pending';
}

test('get core: answers once R (and PR) replicas answered, fails once they cannot, merges every answer, and repairs exactly the replicas that answered with less', () => {
  fc.assert(
    fc.property(
      targetsArb.map((ts) => ts.filter((t) => !t.pending)).filter((ts) => ts.length > 0),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 0, max: 2 }),
      fc.array(fc.record({ node: fc.constantFrom(...NODES), set: fc.option(setArb, { nil: null }) }), { maxLength: 12 }),
      fc.boolean(),
      (targets, r, pr, replies, timeout) => {
        const core = new GetCore(targets, r, pr);
        const answers = new Map<string, SiblingSet>();
        const failed = new Set<string>();
        let decided: 'pending' | 'ok' | 'failed' = 'pending';
        const naiveDecide = () => {
          if (decided === 'pending') decided = naiveRead(targets, r, pr, answers, failed);
        };
        naiveDecide();
        for (const reply of replies) {
          const isTarget = targets.some((t) => t.node === reply.node);
          const fresh = isTarget && !answers.has(reply.node) && !failed.has(reply.node);
          if (reply.set) {
            core.addAnswer(reply.node, reply.set);
            if (fresh) answers.set(reply.node, reply.set);
          } else {
            core.addFailure(reply.node);
            if (fresh) failed.add(reply.node);
          }
          naiveDecide();
          assert.equal(core.state, decided);
        }
        if (timeout) {
          core.timeout();
          for (const t of targets) if (!answers.has(t.node)) failed.add(t.node);
          naiveDecide();
          assert.equal(core.state, decided);
        }
        let merged: SiblingSet = [];
        for (const set of answers.values()) merged = merge(merged, set);
        assert.deepEqual(core.merged.map((v) => v.dot), merged.map((v) => v.dot));
        if (core.complete) {
          assert.notEqual(core.state, 'pending');
          const repair = core.finalAction().repair.map((t) => t.node).sort();
          const naiveRepair = [...answers]
            .filter(
              ([, set]) =>
                merge(set, merged).length !== set.length ||
                merged.some((v) => !set.some((x) => x.dot.actor === v.dot.actor && x.dot.counter === v.dot.counter)),
            )
            .map(([n]) => n)
            .sort();
          assert.deepEqual(repair, naiveRepair);
        }
      },
    ),
    { numRuns: 3000 },
  );
});

test('get core asking some targets first: a target not asked yet may still answer, so the read fails only when every target together could not meet R; once decided, only the asked are waited for', () => {
  fc.assert(
    fc.property(
      targetsArb.map((ts) => ts.filter((t) => !t.pending)).filter((ts) => ts.length > 0),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 0, max: 2 }),
      fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
      fc.array(
        fc.record({ kind: fc.constantFrom('ask' as const, 'ack' as const, 'fail' as const), node: fc.constantFrom(...NODES) }),
        { maxLength: 14 },
      ),
      fc.boolean(),
      (targets, r, pr, firstMask, events, timeout) => {
        const first = targets.filter((_, i) => firstMask[i]);
        const core = new GetCore(targets, r, pr, undefined, first);
        const asked = new Set(first.map((t) => t.node));
        const answers = new Set<string>();
        const failed = new Set<string>();
        let decided: 'pending' | 'ok' | 'failed' = 'pending';
        const naiveDecide = () => {
          if (decided === 'pending') decided = naiveRead(targets, r, pr, answers, failed);
        };
        const naiveComplete = () =>
          targets.every((t) => answers.has(t.node) || failed.has(t.node) || (!asked.has(t.node) && decided !== 'pending'));
        naiveDecide();
        for (const e of events) {
          const target = targets.find((t) => t.node === e.node);
          if (e.kind === 'ask') {
            core.ask(e.node);
            if (target) asked.add(e.node);
          } else if (target && asked.has(e.node)) {
            // only a target the read was sent to answers
            const fresh = !answers.has(e.node) && !failed.has(e.node);
            if (e.kind === 'ack') {
              core.addAnswer(e.node, []);
              if (fresh) answers.add(e.node);
            } else {
              core.addFailure(e.node);
              if (fresh) failed.add(e.node);
            }
          }
          naiveDecide();
          assert.equal(core.state, decided);
          assert.equal(core.complete, naiveComplete());
          assert.deepEqual(
            core.unasked().map((t) => t.node),
            targets.filter((t) => !asked.has(t.node)).map((t) => t.node),
          );
        }
        if (timeout) {
          core.timeout();
          for (const t of targets) if (!answers.has(t.node)) failed.add(t.node);
          naiveDecide();
          assert.equal(core.state, decided);
          assert.equal(core.complete, true);
        }
      },
    ),
    { numRuns: 3000 },
  );
});
