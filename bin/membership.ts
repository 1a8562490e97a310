// The CLI's membership commands: status, join, leave, remove, replace, with a progress bar
// while key ranges move.
import { StoreError } from '../client/src/core/errors.ts';
import type { DynamoClient, RingChangeArgs } from '../client/src/client.ts';
import type { NodeStatus } from '../client/src/status.ts';

/** The status as one node sees it (the first that answers when none is named). */
export async function showStatus(client: DynamoClient, node: string | undefined, json: boolean): Promise<void> {
  const ids = node ? [node] : client.ring.members.map((m) => m.id);
  let s: NodeStatus | undefined;
  for (const id of ids) {
    s = await client.status(id).catch(() => undefined);
    if (s) break;
  }
  if (!s) throw new StoreError('UNAVAILABLE', 'no node answered');
  if (json) {
    process.stdout.write(JSON.stringify(s) + '\n');
    return;
  }
  const lines = [
    `as seen by ${s.id}: ring version ${s.ringVersion}, claimant ${s.claimant}${s.changing ? `, change in progress: ${s.transfersTotal - s.transfersLeft}/${s.transfersTotal} key ranges copied` : ''}`,
    '',
    '  node   address            weight  partitions  reachable  phi    state',
    ...s.members.map(
      (m) =>
        `  ${m.id.padEnd(6)} ${m.address.padEnd(18)} ${String(m.weight).padStart(6)}  ${String(m.partitions).padStart(10)}  ${(m.reachable ? 'yes' : 'NO').padEnd(9)}  ${m.phi.toFixed(1).padStart(5)}  ${m.leaving ? `leaving (${m.leaving})` : 'member'}`,
    ),
  ];
  const moving = s.transfers.filter((t) => t.state !== 'confirmed');
  if (moving.length)
    lines.push(
      '',
      `  transfers into ${s.id}:`,
      ...moving.map(
        (t) => `    key range ${t.partition}: ${t.state}, ${t.keys}/${t.total} keys, ${t.keysPerSecond} keys/s, ETA ${t.etaSeconds}s`,
      ),
    );
  process.stdout.write(lines.join('\n') + '\n');
}

/** Sends a change to the cluster (any node hands it to the claimant); with `wait`, shows progress until it commits. */
export async function changeRing(client: DynamoClient, args: RingChangeArgs, wait: boolean): Promise<void> {
  const reply = await client.changeRing(args);
  process.stdout.write(
    `${args.kind} of ${args.node} planned by ${reply.claimant} at ring version ${reply.version}: ${reply.transfers} key-range copies\n`,
  );
  if (wait) await waitForCommit(client, reply.version);
}

async function waitForCommit(client: DynamoClient, planned: number): Promise<void> {
  const started = performance.now();
  const tty = process.stderr.isTTY;
  let last = '';
  for (;;) {
    await client.refreshRing().catch(() => undefined);
    const ring = client.ring;
    if (ring.version > planned && !ring.next) {
      if (tty) process.stderr.write('\n');
      process.stdout.write(`committed at ring version ${ring.version} after ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
      return;
    }
    const total = ring.transfers.length || 1;
    const done = ring.transfers.filter((t) => t.done).length;
    const statuses = await Promise.all(ring.members.map((m) => client.status(m.id).catch(() => null)));
    const moving = statuses.flatMap((s) => s?.transfers ?? []);
    const keys = moving.reduce((n, t) => n + t.keys, 0);
    const bytes = moving.reduce((n, t) => n + t.bytes, 0);
    const seconds = (performance.now() - started) / 1000;
    const rate = Math.round(keys / Math.max(seconds, 0.001));
    const eta = done > 0 ? Math.round((seconds / done) * (ring.transfers.length - done)) : Math.max(0, ...moving.map((t) => t.etaSeconds));
    const width = 30;
    const filled = Math.round((done / total) * width);
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${ring.transfers.length} key ranges  ${keys} keys  ${(bytes / 1e6).toFixed(1)} MB  ${rate} keys/s  ETA ${eta}s`;
    if (tty) process.stderr.write(`\r${line}`);
    else if (line !== last) process.stderr.write(line + '\n');
    last = line;
    await new Promise((r) => setTimeout(r, 500));
  }
}
