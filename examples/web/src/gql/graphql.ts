/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
export type NoteQueryVariables = Exact<{
  key: string;
}>;


export type NoteQuery = { get: { key: string, context: string | null, siblings: Array<{ value: unknown, deleted: boolean, dot: string, writtenAt: string | null }> } | null };

export type WriteNoteMutationVariables = Exact<{
  key: string;
  value: unknown;
  context?: string | null | undefined;
}>;


export type WriteNoteMutation = { put: { key: string, context: string, dot: string } };

export type CartQueryVariables = Exact<{
  items: string;
  units: string;
  r?: number | null | undefined;
}>;


export type CartQuery = { items: Array<unknown>, units: number };

export type ReplicationQueryVariables = Exact<{ [key: string]: never; }>;


export type ReplicationQuery = { cluster: { n: number } };

export type AddItemsMutationVariables = Exact<{
  key: string;
  members: Array<unknown> | unknown;
}>;


export type AddItemsMutation = { setAdd: Array<unknown> };

export type RemoveItemsMutationVariables = Exact<{
  key: string;
  members: Array<unknown> | unknown;
}>;


export type RemoveItemsMutation = { setRemove: Array<unknown> };

export type AddUnitsMutationVariables = Exact<{
  key: string;
  by: number;
}>;


export type AddUnitsMutation = { counterIncrement: number };

export type WatchCartSubscriptionVariables = Exact<{
  keys: Array<string> | string;
  contexts?: Array<string | null | undefined> | string | null | undefined;
}>;


export type WatchCartSubscription = { watch: { key: string, context: string | null, siblings: Array<{ value: unknown, deleted: boolean, dot: string, writtenAt: string | null }> } };


export const NoteDocument = {"__meta__":{"hash":"sha256:1d6620828747f61012118e1370f9ef7f2a00d4079802ac73f9d7f92304328286"}} as unknown as DocumentNode<NoteQuery, NoteQueryVariables>;
export const WriteNoteDocument = {"__meta__":{"hash":"sha256:2104095ac29115493ad7db19c7c43a2a1e7f3990b8edade522aed734df272c7f"}} as unknown as DocumentNode<WriteNoteMutation, WriteNoteMutationVariables>;
export const CartDocument = {"__meta__":{"hash":"sha256:e2d48e30eb30943f78763ee335c9bf58cb235b8efa5c7666e5f9107f4688350e"}} as unknown as DocumentNode<CartQuery, CartQueryVariables>;
export const ReplicationDocument = {"__meta__":{"hash":"sha256:e4bcbc81755648da8efc4789c24b0802334ed296d7dfafb81f664e485c4bd23b"}} as unknown as DocumentNode<ReplicationQuery, ReplicationQueryVariables>;
export const AddItemsDocument = {"__meta__":{"hash":"sha256:9366f37fd5bf2c4f833776fe6add0236c6d9da64088f01f3067df0b30d0630a6"}} as unknown as DocumentNode<AddItemsMutation, AddItemsMutationVariables>;
export const RemoveItemsDocument = {"__meta__":{"hash":"sha256:768930427795c44e0f6e232e1e318568bf78bd6882309624a88c223d5c87e5cf"}} as unknown as DocumentNode<RemoveItemsMutation, RemoveItemsMutationVariables>;
export const AddUnitsDocument = {"__meta__":{"hash":"sha256:ed940cecb0e76bd284bddc1e2ae9d0d80859bc2303debd8ed62d7341e32b1ac8"}} as unknown as DocumentNode<AddUnitsMutation, AddUnitsMutationVariables>;
export const WatchCartDocument = {"__meta__":{"hash":"sha256:c3b57d0407e57bd2f308d7f72b85db3c334b47d589e59301c85e5116fab79376"}} as unknown as DocumentNode<WatchCartSubscription, WatchCartSubscriptionVariables>;