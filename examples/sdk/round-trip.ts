// The sibling round trip with the typed SDK: two clients write the same cart without seeing
// each other, a reader sees both versions as siblings, merges them, and writes the merge back
// with the context; one version remains. Run: npx tsx examples/sdk/round-trip.ts [url]
import { fileURLToPath } from 'node:url';
import { Sdk } from './client.ts';
import { DeleteKeyDocument, GetKeyDocument, PutKeyDocument } from './generated/graphql.ts';

type Cart = { items: string[] };

export async function siblingRoundTrip(url: string, key = `cart-${Date.now()}`): Promise<Cart> {
  const sdk = new Sdk(url);
  await sdk.request(PutKeyDocument, { key, value: { items: ['apple'] } });
  await sdk.request(PutKeyDocument, { key, value: { items: ['pear'] } });

  const read = await sdk.request(GetKeyDocument, { key });
  const siblings = read.get?.siblings ?? [];
  if (siblings.length !== 2) throw new Error(`expected two siblings, got ${siblings.length}`);

  // the client's own merge rule: the union of the items
  const merged: Cart = { items: [...new Set(siblings.flatMap((s) => (s.value as Cart).items))].sort() };
  await sdk.request(PutKeyDocument, { key, value: merged, context: read.get?.context, w: 3 });

  const after = await sdk.request(GetKeyDocument, { key, r: 3 });
  if (after.get?.siblings.length !== 1) throw new Error(`expected one version after the merge, got ${after.get?.siblings.length}`);

  const removed = await sdk.request(DeleteKeyDocument, { key, context: after.get.context });
  if (!removed.delete.context) throw new Error('a delete returns a context');
  return after.get.siblings[0]!.value as Cart;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const merged = await siblingRoundTrip(process.argv[2] ?? 'http://127.0.0.1:4000/graphql');
  process.stdout.write(`merged cart: ${JSON.stringify(merged)}\n`);
}
