// What the upgrade request and its answer carry when a caller proves an identity
// (docs/security.md): both ends import them from here, so the client never loads the server.

/** the caller's certificate, base64url of its JSON (auth/certificate.ts) */
export const IDENTITY_HEADER = 'x-dynamo-identity';
/** on the 101 answer to a certificate: the nonce to sign, base64url, and the node's id */
export const NONCE_HEADER = 'x-dynamo-nonce';
export const NODE_ID_HEADER = 'x-dynamo-node-id';
/** the first protocol version with hello */
export const IDENTITY_PROTOCOL = 5;
