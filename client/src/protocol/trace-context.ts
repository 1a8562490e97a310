// A W3C trace context carried on a request frame (protocol version 8), so one trace follows a
// request from the gateway to its coordinator and on to the replicas. It rides in the frame
// header's extension (codec.ts: bit 7 of the type byte), never in a message's payload, so every
// request type can carry one and a receiver that does not trace ignores it.
//
// The protocol knows nothing of OpenTelemetry: a process that traces installs a source
// (storage/tracing.ts), and each request a connection sends takes the context current when it
// is sent. Without a source nothing is read and nothing is written.
import type { Reader, Writer } from './wire.ts';
import { ProtocolError } from './wire.ts';

/** The protocol version frames first carry a trace context in. */
export const TRACE_SINCE = 8;

/** Set in a frame's type byte when a trace context follows the header. */
export const TRACE_FLAG = 0x80;

/** 16 bytes of trace id, 8 of parent span id, 1 of trace flags (bit 0: sampled). */
export const TRACE_BYTES = 16 + 8 + 1;

export interface TraceContext {
  /** 32 lowercase hex digits, not all zero */
  readonly traceId: string;
  /** 16 lowercase hex digits, not all zero: the sender's span, the receiver's parent */
  readonly spanId: string;
  /** W3C trace flags; bit 0 is "sampled" */
  readonly flags: number;
}

const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

export function writeTraceContext(w: Writer, t: TraceContext): void {
  w.bytes(Buffer.from(t.traceId, 'hex'));
  w.bytes(Buffer.from(t.spanId, 'hex'));
  w.u8(t.flags);
}

export function readTraceContext(r: Reader): TraceContext {
  const traceId = r.bytes(16).toString('hex');
  const spanId = r.bytes(8).toString('hex');
  const flags = r.u8();
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) throw new ProtocolError('a trace context with an all-zero trace or span id');
  return { traceId, spanId, flags };
}

type TraceSource = () => TraceContext | undefined;

let source: TraceSource | null = null;

/** Installs where outgoing requests take their trace context from (valid ids only); null stops it. */
export function setTraceSource(s: TraceSource | null): void {
  source = s;
}

/** The trace context for a request sent now; undefined when nothing traces (one null check). */
export function outgoingTrace(): TraceContext | undefined {
  return source === null ? undefined : source();
}
