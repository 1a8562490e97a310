// Another project's use of dynamo-gateway-client: a get, a put, and two writers' siblings merged.
// DYNAMO_SEEDS (host:port,...), DYNAMO_CLUSTER and DYNAMO_SECRET say which cluster to reach.
import { contextOf, DynamoClient, type ReadResult } from 'dynamo-gateway-client';

const seeds = (process.env.DYNAMO_SEEDS ?? '127.0.0.1:7001').split(',');
const client = await DynamoClient.connect({
  seeds,
  cluster: process.env.DYNAMO_CLUSTER ?? 'dev',
  secret: process.env.DYNAMO_SECRET,
  timeoutMs: 5000,
});
const key = process.argv[2] ?? `example-${Date.now()}`;

/** The live values of a read, as text, sorted. */
const values = (r: ReadResult): string[] =>
  r.siblings
    .filter((v) => !v.deleted)
    .map((v) => Buffer.from(v.value).toString('utf8'))
    .sort();

try {
  const before = await client.get(key);
  // two writers who read nothing before writing: neither put covers the other, so both stay, as siblings
  const first = await client.put(key, Buffer.from(JSON.stringify(['apple'])));
  await client.put(key, Buffer.from(JSON.stringify(['pear'])));
  const both = await client.get(key);
  // the merge: the union of the siblings, written with a context that covers them both
  const union = [...new Set(values(both).flatMap((v) => JSON.parse(v) as string[]))].sort();
  await client.put(key, Buffer.from(JSON.stringify(union)), { context: contextOf(both.siblings) });
  const after = await client.get(key);
  console.log(JSON.stringify({ key, before: values(before), acks: first.acks, siblings: values(both), merged: values(after) }));
} finally {
  client.close();
}
