// The defects review and the simulator found, each as a small change that brings it back. The
// mutation run (run.ts) applies one at a time to a copy of the tree and runs the check that
// must catch it: a check that passes with the defect back in is a check that proves nothing.
export interface Mutation {
  readonly name: string;
  /** where the defect was found */
  readonly found: string;
  readonly file: string;
  /** text that must occur exactly once in the file */
  readonly find: string;
  readonly replace: string;
  /** the command that must fail once the defect is back */
  readonly check: readonly string[];
}

const sim = (profile: string, seeds: number, from = 1): string[] => [
  'node',
  '--import',
  'tsx',
  'test/sim/run.ts',
  '--profile',
  profile,
  '--seeds',
  String(seeds),
  '--from',
  String(from),
];
const testFile = (file: string, pattern?: string): string[] => [
  'node',
  '--import',
  'tsx',
  '--test',
  ...(pattern ? ['--test-name-pattern', pattern] : []),
  file,
];

export const MUTATIONS: readonly Mutation[] = [
  {
    name: 'a context trimmed to the bound while the stored histories keep every actor',
    found: 'review (issue 11): a key became unwritable after 63 coordinator restarts',
    file: 'storage/coordinator.ts',
    find: `const next = bound(
        written,
        config.maxActors,
        current.map((v) => v.dot.actor),
      );`,
    replace: 'const next = applyWrite(current, { ...version, past: new Map([...version.past].slice(0, config.maxActors - 1)) });',
    check: sim('tight', 40),
  },
  {
    name: 'a coordinator sends a new version before its own disk has it, and counts a failed local write as one replica lost',
    found: 'review (issue 11): a failed disk write let a blind delete remove an acknowledged write',
    file: 'storage/coordinator.ts',
    find: `    try {
      await staged.durable;
    } catch (e) {`,
    replace: `    void staged.durable.catch(() => undefined);
    if (Math.random() > 2) try {
      await staged.durable;
    } catch (e) {`,
    check: sim('swarm', 300),
  },
  {
    name: 'a crash no longer needs a new actor, but the coordinator sends before its own write is durable',
    found: 'design (issue 11): the crash window between sending to replicas and the local fsync',
    file: 'storage/coordinator.ts',
    find: `    try {
      await staged.durable;
    } catch (e) {`,
    replace: `    const durable = staged.durable;
    if (Math.random() > 2) try {
      await durable;
    } catch (e) {`,
    check: sim('swarm', 300),
  },
  {
    name: 'a hint deletion is not seen by reads until its transaction commits',
    found: 'review (issue 12): hints hidden by an LMDB visibility race',
    file: 'storage/engine/overlay.ts',
    find: '    this.#pending.set(id, mine);',
    replace: '    if (value !== null) this.#pending.set(id, mine);',
    check: testFile('test/replica/hints.test.ts'),
  },
  {
    name: 'expired hints are dropped without handing them to a primary',
    found: 'review (issue 12): hint expiry dropped the only copies of an acknowledged write',
    file: 'storage/repair/expiry.ts',
    find: 'if ((await handOff(o, h)) >= Math.min(2, o.view.n))',
    replace: 'if ((await Promise.resolve(2)) >= Math.min(2, o.view.n))',
    check: sim('swarm', 300),
  },
  {
    name: 'a range no longer replicated is dropped without a final pass to its replicas',
    found: 'review (issue 12): a ring change dropped writes that reached only the old owners',
    file: 'storage/membership/transfers.ts',
    find: '        for (const to of replicas) {',
    replace: '        for (const to of replicas.slice(0, 0)) {',
    // the swarm sees a loss only when every copy of a write was on replicas that dropped the
    // range; the test checks the stronger property, N copies on the new replicas before a drop
    check: testFile('test/sim/membership.test.ts', 'hears no gossip'),
  },
  {
    name: 'reclamation goes ahead while an old owner still holds a copy of the key',
    found: 'swarm simulation: a deleted and reclaimed value came back with the old owner\'s last pass (seed 1956)',
    file: 'storage/repair/service.ts',
    find: 'replica.hintOwners(k).length > 0 || stale(k)',
    replace: 'replica.hintOwners(k).length > 0 || (stale(k) && k === "")',
    check: testFile('test/sim/repair.test.ts', 'no longer replicates its range'),
  },
  {
    name: 'a fallback hands its hints back without moving the actor of a range where it made dots',
    found: 'swarm simulation: a read claimed writes it never saw (seed 36)',
    file: 'storage/repair/service.ts',
    find: 'if (identity.hasMinted(p)) await identity.newIncarnation(p);',
    replace: 'if (identity.hasMinted(p) && p < 0) await identity.newIncarnation(p);',
    check: testFile('test/sim/repair.test.ts', 'fallback that made dots'),
  },
  {
    name: 'a lease write that failed is taken as durable',
    found: 'swarm simulation: a dot minted twice after a failed lease write (seed 144)',
    file: 'storage/identity.ts',
    find: `      } catch {
        // the next counter that needs it asks again
      } finally {`,
    replace: `      } catch {
        this.#durableLease = Math.max(this.#durableLease, lease);
      } finally {`,
    check: sim('swarm', 300),
  },
  {
    name: 'a version supersedes another by its dot alone, not its whole history',
    found: 'design: trimmed or pruned histories',
    file: 'client/src/core/siblings.ts',
    find: 'return !equalDots(a.dot, b.dot) && coversDot(a.past, b.dot) && leq(b.past, a.past);',
    replace: 'return !equalDots(a.dot, b.dot) && coversDot(a.past, b.dot);',
    check: testFile('test/core/siblings.test.ts', 'trimmed past'),
  },
  {
    name: 'a coordinator sends replicas only the new version, not its whole resulting set',
    found: 'design: contexts are honest because coordinators ship whole sets',
    file: 'storage/coordinator.ts',
    find: 'const work = this.#replicas.write(t, req.key, set).then(',
    replace: 'const work = this.#replicas.write(t, req.key, [written]).then(',
    check: sim('swarm', 100),
  },
];
