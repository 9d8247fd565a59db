// The dead-letter envelope: why a record was refused, where it came from, and its original bytes,
// cut to the sink's limits so that one huge record cannot make its own dead letter unwritable.
import { createHash } from 'node:crypto';
import type { DeadLetterRecord } from './wire-types.js';
import type { Rejected } from './routed.js';

/** What one envelope may carry; the defaults stay far below Kafka's 1 MB message limit. */
export interface DeadLetterLimits {
  /** Longest payload kept; the original size is in payload_bytes. */
  readonly maxPayloadBytes: number;
  /** Longest original key kept, and the longest customer_id repeated in the envelope. */
  readonly maxKeyBytes: number;
}

export const DEFAULT_DEAD_LETTER_LIMITS: DeadLetterLimits = Object.freeze({ maxPayloadBytes: 65_536, maxKeyBytes: 1024 });

/** reason_detail is our own text, but parse errors may quote their input: it is cut too. */
const MAX_DETAIL_CHARS = 1024;

export function describePosition(rejected: Rejected): string {
  return `${rejected.record.position.stream}@${rejected.record.position.offset}`;
}

function toBuffer(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  return Buffer.from(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? 'null', 'utf8');
}

export function toDeadLetter(rejected: Rejected): DeadLetterRecord {
  const r = rejected.record;
  const source = describePosition(rejected);
  const payload = toBuffer(r.value);
  // The key is kept once, here in the envelope: not again in a header nor as the message key.
  const key = r.key === undefined || r.key === null ? null : toBuffer(r.key);
  return {
    // Deterministic: the same source position always yields the same id, so redelivered dead letters deduplicate.
    dead_letter_id: createHash('sha256').update(`${rejected.route}|${source}`).digest('hex').slice(0, 32),
    route: rejected.route,
    reason_code: rejected.code,
    reason_detail: rejected.detail.length > MAX_DETAIL_CHARS ? `${rejected.detail.slice(0, MAX_DETAIL_CHARS)}…` : rejected.detail,
    source,
    source_topic: r.topic ?? null,
    source_partition: r.partition ?? null,
    source_offset: String(r.position.offset),
    original_key: key,
    payload,
    customer_id: rejected.event?.customerId ?? null,
    event_time: rejected.event?.eventTime ?? null,
    received_time: r.receivedAt,
    payload_bytes: payload.length,
    original_key_bytes: key === null ? null : key.length,
    truncated: false,
  };
}

/** The envelope cut to a sink's limits (payload_bytes and original_key_bytes keep the original sizes). */
export function limitDeadLetter(d: DeadLetterRecord, limits: DeadLetterLimits): DeadLetterRecord {
  const keyFits = d.original_key === null || d.original_key.length <= limits.maxKeyBytes;
  const customerFits = d.customer_id === null || Buffer.byteLength(d.customer_id) <= limits.maxKeyBytes;
  if (d.payload.length <= limits.maxPayloadBytes && keyFits && customerFits) return d;
  return {
    ...d,
    payload: d.payload.subarray(0, limits.maxPayloadBytes),
    original_key: keyFits ? d.original_key : d.original_key!.subarray(0, limits.maxKeyBytes),
    // An id too long to repeat is left out: its bytes are in the (possibly cut) payload.
    customer_id: customerFits ? d.customer_id : null,
    truncated: true,
  };
}

/** The last resort when a sink refuses even a cut envelope: reason and position only, no bytes. */
export function withoutBytes(d: DeadLetterRecord): DeadLetterRecord {
  return { ...d, payload: Buffer.alloc(0), original_key: null, customer_id: null, truncated: true };
}
