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
}>;


export type CartQuery = { items: Array<unknown>, units: number };

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


export const NoteDocument = {"__meta__":{"hash":"sha256:1d6620828747f61012118e1370f9ef7f2a00d4079802ac73f9d7f92304328286"}} as unknown as DocumentNode<NoteQuery, NoteQueryVariables>;
export const WriteNoteDocument = {"__meta__":{"hash":"sha256:2104095ac29115493ad7db19c7c43a2a1e7f3990b8edade522aed734df272c7f"}} as unknown as DocumentNode<WriteNoteMutation, WriteNoteMutationVariables>;
export const CartDocument = {"__meta__":{"hash":"sha256:0d03cb3d1eda67d4593abf868921f622c8d9d7c6a4174ee18e583d4011106225"}} as unknown as DocumentNode<CartQuery, CartQueryVariables>;
export const AddItemsDocument = {"__meta__":{"hash":"sha256:9366f37fd5bf2c4f833776fe6add0236c6d9da64088f01f3067df0b30d0630a6"}} as unknown as DocumentNode<AddItemsMutation, AddItemsMutationVariables>;
export const RemoveItemsDocument = {"__meta__":{"hash":"sha256:768930427795c44e0f6e232e1e318568bf78bd6882309624a88c223d5c87e5cf"}} as unknown as DocumentNode<RemoveItemsMutation, RemoveItemsMutationVariables>;
export const AddUnitsDocument = {"__meta__":{"hash":"sha256:ed940cecb0e76bd284bddc1e2ae9d0d80859bc2303debd8ed62d7341e32b1ac8"}} as unknown as DocumentNode<AddUnitsMutation, AddUnitsMutationVariables>;