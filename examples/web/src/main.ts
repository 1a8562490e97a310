// The cart page: one cart (?cart=NAME) kept in three keys of the gateway.
//   cart:NAME:items  an add-wins set of product names
//   cart:NAME:units  a counter
//   cart:NAME:note   a plain value: concurrent writes stay siblings; the Merge button writes
//                    the merged value back with the context, and one version remains
// A live watch of the three keys keeps the page current: what another tab or client writes
// shows here without a reload.
import {
  AddItemsDocument,
  AddUnitsDocument,
  CartDocument,
  NoteDocument,
  RemoveItemsDocument,
  ReplicationDocument,
  WatchCartDocument,
  WriteNoteDocument,
} from './gql/graphql';
import { GatewayError, request } from './sdk';
import { watch } from './watch';
import { mergeNotes, type Sibling } from './merge';

const cart = new URLSearchParams(location.search).get('cart') || 'demo';
const keys = { items: `cart:${cart}:items`, units: `cart:${cart}:units`, note: `cart:${cart}:note` };

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
$('cart-id').textContent = cart;

interface NoteSibling extends Sibling {
  readonly dot: string;
  readonly writtenAt: string;
}
/** The note as this page last read it: its siblings and the context to write over them. */
let note: { siblings: readonly NoteSibling[]; context: string | null } = { siblings: [], context: null };

function showError(e: unknown): void {
  const el = $('error');
  el.hidden = false;
  el.textContent = e instanceof Error ? `${(e as { code?: string }).code ?? 'ERROR'}: ${e.message}` : String(e);
}

/** Runs a user action; a failure is shown on the page, never swallowed. body[data-actions] counts those finished. */
function act(action: () => Promise<void>): void {
  action()
    .then(() => ($('error').hidden = true), showError)
    .finally(() => (document.body.dataset.actions = String(Number(document.body.dataset.actions ?? 0) + 1)));
}

function renderItems(items: readonly unknown[]): void {
  const list = $('items');
  list.replaceChildren(
    ...[...items].map(String).sort().map((item) => {
      const li = document.createElement('li');
      li.dataset.item = item;
      li.append(item);
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.textContent = 'Remove';
      remove.addEventListener('click', () =>
        act(async () => {
          await request(RemoveItemsDocument, { key: keys.items, members: [item] });
          await refreshCart();
        }),
      );
      li.append(remove);
      return li;
    }),
  );
  list.dataset.count = String(items.length);
}

function renderUnits(units: number): void {
  $('units').textContent = String(units);
}

export function renderNote(siblings: readonly NoteSibling[], context: string | null): void {
  note = { siblings, context };
  $('siblings').replaceChildren(
    ...siblings.map((s) => {
      const li = document.createElement('li');
      li.className = s.deleted ? 'deleted' : 'live';
      li.append(s.deleted ? '(deleted)' : String(s.value));
      const meta = document.createElement('span');
      meta.className = 'meta';
      meta.textContent = `dot ${s.dot} · ${s.writtenAt}`;
      li.append(meta);
      return li;
    }),
  );
  const merge = $('merge');
  merge.hidden = siblings.length < 2;
  merge.textContent = `Merge ${siblings.length} siblings`;
}

/**
 * Replicas the cart is read from: all N. A watch event comes as soon as one replica stores a
 * version, so a read from fewer could miss it; with a replica down, the cluster's default R.
 */
let readFrom: number | null = null;

export async function loadCart(): Promise<void> {
  const read = (r: number | null) => request(CartDocument, { items: keys.items, units: keys.units, r });
  const data = await read(readFrom).catch((e: unknown) => {
    if (e instanceof GatewayError && (e.code === 'QUORUM_NOT_MET' || e.code === 'TIMEOUT')) return read(null);
    throw e;
  });
  renderItems(data.items);
  renderUnits(data.units);
}

export async function loadNote(): Promise<void> {
  const { get } = await request(NoteDocument, { key: keys.note });
  renderNote((get?.siblings ?? []) as NoteSibling[], get?.context ?? null);
}

/** Writes the note; the watch brings the new siblings (a read here could answer older ones than an event already shown). */
async function writeNote(value: string, context: string | null): Promise<void> {
  await request(WriteNoteDocument, { key: keys.note, value, context });
}

$('add-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $<HTMLInputElement>('item-input');
  const item = input.value.trim();
  if (!item) return;
  input.value = '';
  act(async () => {
    await request(AddItemsDocument, { key: keys.items, members: [item] });
    await refreshCart();
  });
});
for (const [id, by] of [['units-plus', 1], ['units-minus', -1]] as const) {
  $(id).addEventListener('click', () =>
    act(async () => {
      await request(AddUnitsDocument, { key: keys.units, by });
      await refreshCart();
    }),
  );
}
$('note-form').addEventListener('submit', (e) => {
  e.preventDefault();
  act(() => writeNote($<HTMLInputElement>('note-input').value, note.context));
});
// a write without a context: it supersedes nothing, so it becomes a sibling of what is there
$('note-save-blind').addEventListener('click', () => act(() => writeNote($<HTMLInputElement>('note-input').value, null)));
// the merge supersedes exactly the siblings shown, because it is written with their context
$('merge').addEventListener('click', () => act(() => writeNote(mergeNotes(note.siblings), note.context)));

/**
 * Reads the cart again, one read at a time so what the page shows never goes back: a call made
 * while a read is under way waits for one more read that starts after it. (The answers of the
 * mutations are not shown for that reason: one could arrive after a later read.)
 */
let cartRead: Promise<void> | null = null;
let nextRead: Promise<void> | null = null;
function refreshCart(): Promise<void> {
  if (!cartRead) {
    cartRead = loadCart().finally(() => (cartRead = null));
    return cartRead;
  }
  nextRead ??= cartRead
    .catch(() => undefined)
    .then(() => {
      nextRead = null;
      return refreshCart();
    });
  return nextRead;
}

/** The last context the watch gave for each key: a watch opened again sends them, and gets what changed since. */
const seen = new Map<string, string>();
const watched = [keys.items, keys.units, keys.note];

function follow(): void {
  const live = $('live');
  const stop = new AbortController();
  addEventListener('pagehide', () => stop.abort());
  void watch(
    WatchCartDocument,
    () => ({ keys: watched, contexts: watched.map((k) => seen.get(k) ?? null) }),
    {
      next: ({ watch: event }) => {
        if (event.context) seen.set(event.key, event.context);
        // the note is a plain value: the event's siblings are what to show; the items and units
        // are typed, their siblings hold CRDT states, and set and counter read their join
        if (event.key === keys.note) renderNote(event.siblings as NoteSibling[], event.context ?? null);
        else refreshCart().catch(showError);
      },
      status: (open, problem) => {
        live.dataset.open = String(open);
        live.className = open ? 'status' : 'error';
        live.textContent = open
          ? `live: watching ${watched.length} keys (graphql-sse)`
          : `watch interrupted (${problem}); subscribing again…`;
        // whatever was written while the watch was down arrives as events once it is open again
      },
    },
    stop.signal,
  );
}

request(ReplicationDocument, {})
  .then(({ cluster }) => (readFrom = cluster.n))
  .then(() => Promise.all([loadCart(), loadNote()]))
  .then(() => {
    document.body.dataset.ready = 'true';
    follow();
  }, showError);
