/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "# The operations the page sends. npm run codegen turns them into typed documents (src/gql/) and\n# src/gql/persisted-documents.json, the {sha256: query} file the gateway serves them from.\n\nquery Note($key: String!) {\n  get(key: $key) {\n    key\n    context\n    siblings {\n      value\n      deleted\n      dot\n      writtenAt\n    }\n  }\n}\n\nmutation WriteNote($key: String!, $value: JSON!, $context: String) {\n  put(key: $key, value: $value, context: $context) {\n    key\n    context\n    dot\n  }\n}\n\nquery Cart($items: String!, $units: String!, $r: Int) {\n  items: set(key: $items, r: $r)\n  units: counter(key: $units, r: $r)\n}\n\nquery Replication {\n  cluster {\n    n\n  }\n}\n\nmutation AddItems($key: String!, $members: [JSON!]!) {\n  setAdd(key: $key, members: $members)\n}\n\nmutation RemoveItems($key: String!, $members: [JSON!]!) {\n  setRemove(key: $key, members: $members)\n}\n\nmutation AddUnits($key: String!, $by: Int!) {\n  counterIncrement(key: $key, by: $by)\n}\n\n# The live watch: an event per key whenever a version of it is stored, with the whole sibling\n# set and context; contexts[i] is the last context the page saw for keys[i].\nsubscription WatchCart($keys: [String!]!, $contexts: [String]) {\n  watch(keys: $keys, contexts: $contexts) {\n    key\n    context\n    siblings {\n      value\n      deleted\n      dot\n      writtenAt\n    }\n  }\n}\n": typeof types.NoteDocument,
};
const documents: Documents = {
    "# The operations the page sends. npm run codegen turns them into typed documents (src/gql/) and\n# src/gql/persisted-documents.json, the {sha256: query} file the gateway serves them from.\n\nquery Note($key: String!) {\n  get(key: $key) {\n    key\n    context\n    siblings {\n      value\n      deleted\n      dot\n      writtenAt\n    }\n  }\n}\n\nmutation WriteNote($key: String!, $value: JSON!, $context: String) {\n  put(key: $key, value: $value, context: $context) {\n    key\n    context\n    dot\n  }\n}\n\nquery Cart($items: String!, $units: String!, $r: Int) {\n  items: set(key: $items, r: $r)\n  units: counter(key: $units, r: $r)\n}\n\nquery Replication {\n  cluster {\n    n\n  }\n}\n\nmutation AddItems($key: String!, $members: [JSON!]!) {\n  setAdd(key: $key, members: $members)\n}\n\nmutation RemoveItems($key: String!, $members: [JSON!]!) {\n  setRemove(key: $key, members: $members)\n}\n\nmutation AddUnits($key: String!, $by: Int!) {\n  counterIncrement(key: $key, by: $by)\n}\n\n# The live watch: an event per key whenever a version of it is stored, with the whole sibling\n# set and context; contexts[i] is the last context the page saw for keys[i].\nsubscription WatchCart($keys: [String!]!, $contexts: [String]) {\n  watch(keys: $keys, contexts: $contexts) {\n    key\n    context\n    siblings {\n      value\n      deleted\n      dot\n      writtenAt\n    }\n  }\n}\n": types.NoteDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "# The operations the page sends. npm run codegen turns them into typed documents (src/gql/) and\n# src/gql/persisted-documents.json, the {sha256: query} file the gateway serves them from.\n\nquery Note($key: String!) {\n  get(key: $key) {\n    key\n    context\n    siblings {\n      value\n      deleted\n      dot\n      writtenAt\n    }\n  }\n}\n\nmutation WriteNote($key: String!, $value: JSON!, $context: String) {\n  put(key: $key, value: $value, context: $context) {\n    key\n    context\n    dot\n  }\n}\n\nquery Cart($items: String!, $units: String!, $r: Int) {\n  items: set(key: $items, r: $r)\n  units: counter(key: $units, r: $r)\n}\n\nquery Replication {\n  cluster {\n    n\n  }\n}\n\nmutation AddItems($key: String!, $members: [JSON!]!) {\n  setAdd(key: $key, members: $members)\n}\n\nmutation RemoveItems($key: String!, $members: [JSON!]!) {\n  setRemove(key: $key, members: $members)\n}\n\nmutation AddUnits($key: String!, $by: Int!) {\n  counterIncrement(key: $key, by: $by)\n}\n\n# The live watch: an event per key whenever a version of it is stored, with the whole sibling\n# set and context; contexts[i] is the last context the page saw for keys[i].\nsubscription WatchCart($keys: [String!]!, $contexts: [String]) {\n  watch(keys: $keys, contexts: $contexts) {\n    key\n    context\n    siblings {\n      value\n      deleted\n      dot\n      writtenAt\n    }\n  }\n}\n"): (typeof documents)["# The operations the page sends. npm run codegen turns them into typed documents (src/gql/) and\n# src/gql/persisted-documents.json, the {sha256: query} file the gateway serves them from.\n\nquery Note($key: String!) {\n  get(key: $key) {\n    key\n    context\n    siblings {\n      value\n      deleted\n      dot\n      writtenAt\n    }\n  }\n}\n\nmutation WriteNote($key: String!, $value: JSON!, $context: String) {\n  put(key: $key, value: $value, context: $context) {\n    key\n    context\n    dot\n  }\n}\n\nquery Cart($items: String!, $units: String!, $r: Int) {\n  items: set(key: $items, r: $r)\n  units: counter(key: $units, r: $r)\n}\n\nquery Replication {\n  cluster {\n    n\n  }\n}\n\nmutation AddItems($key: String!, $members: [JSON!]!) {\n  setAdd(key: $key, members: $members)\n}\n\nmutation RemoveItems($key: String!, $members: [JSON!]!) {\n  setRemove(key: $key, members: $members)\n}\n\nmutation AddUnits($key: String!, $by: Int!) {\n  counterIncrement(key: $key, by: $by)\n}\n\n# The live watch: an event per key whenever a version of it is stored, with the whole sibling\n# set and context; contexts[i] is the last context the page saw for keys[i].\nsubscription WatchCart($keys: [String!]!, $contexts: [String]) {\n  watch(keys: $keys, contexts: $contexts) {\n    key\n    context\n    siblings {\n      value\n      deleted\n      dot\n      writtenAt\n    }\n  }\n}\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;