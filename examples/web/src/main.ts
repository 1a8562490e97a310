// The cart page: one cart (?cart=NAME) kept in three keys of the gateway.
//   cart:NAME:items  an add-wins set of product names
//   cart:NAME:units  a counter
//   cart:NAME:note   a plain value: concurrent writes stay siblings; the Merge button writes
//                    the merged value back with the context, and one version remains
import { AddItemsDocument, AddUnitsDocument, CartDocument, NoteDocument, RemoveItemsDocument, WriteNoteDocument } from './gql/graphql';
import { request } from './sdk';
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
      remove.addEventListener('click', () => act(async () => renderItems((await request(RemoveItemsDocument, { key: keys.items, members: [item] })).setRemove)));
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

export async function loadCart(): Promise<void> {
  const data = await request(CartDocument, { items: keys.items, units: keys.units });
  renderItems(data.items);
  renderUnits(data.units);
}

export async function loadNote(): Promise<void> {
  const { get } = await request(NoteDocument, { key: keys.note });
  renderNote((get?.siblings ?? []) as NoteSibling[], get?.context ?? null);
}

async function writeNote(value: string, context: string | null): Promise<void> {
  await request(WriteNoteDocument, { key: keys.note, value, context });
  await loadNote();
}

$('add-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $<HTMLInputElement>('item-input');
  const item = input.value.trim();
  if (!item) return;
  input.value = '';
  act(async () => renderItems((await request(AddItemsDocument, { key: keys.items, members: [item] })).setAdd));
});
for (const [id, by] of [['units-plus', 1], ['units-minus', -1]] as const) {
  $(id).addEventListener('click', () => act(async () => renderUnits((await request(AddUnitsDocument, { key: keys.units, by })).counterIncrement)));
}
$('note-form').addEventListener('submit', (e) => {
  e.preventDefault();
  act(() => writeNote($<HTMLInputElement>('note-input').value, note.context));
});
// a write without a context: it supersedes nothing, so it becomes a sibling of what is there
$('note-save-blind').addEventListener('click', () => act(() => writeNote($<HTMLInputElement>('note-input').value, null)));
// the merge supersedes exactly the siblings shown, because it is written with their context
$('merge').addEventListener('click', () => act(() => writeNote(mergeNotes(note.siblings), note.context)));

Promise.all([loadCart(), loadNote()]).then(() => (document.body.dataset.ready = 'true'), showError);
