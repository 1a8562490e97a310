// A small typed client over the generated documents: the shape a frontend team's SDK takes.
import { print } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';

export class GatewayError extends Error {
  readonly code: string;
  readonly extensions: Record<string, unknown>;
  constructor(
    message: string,
    code: string,
    extensions: Record<string, unknown>,
  ) {
    super(message);
    this.code = code;
    this.extensions = extensions;
  }
}

export class Sdk {
  private readonly url: string;
  private readonly headers: Record<string, string>;
  constructor(
    url: string,
    headers: Record<string, string> = {},
  ) {
    this.url = url;
    this.headers = headers;
  }

  async request<Result, Variables>(document: TypedDocumentNode<Result, Variables>, variables: Variables): Promise<Result> {
    const res = await fetch(this.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json',
        'x-graphql-yoga-csrf': '1',
        ...this.headers,
      },
      body: JSON.stringify({ query: print(document), variables }),
    });
    const body = (await res.json()) as { data?: Result; errors?: { message: string; extensions?: Record<string, unknown> }[] };
    const error = body.errors?.[0];
    if (error) throw new GatewayError(error.message, String(error.extensions?.code ?? 'UNKNOWN'), error.extensions ?? {});
    return body.data!;
  }
}
