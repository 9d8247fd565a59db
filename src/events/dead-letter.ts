// The dead-letter envelope: why a record was refused, where it came from, and its original bytes.
import { createHash } from 'node:crypto';
import type { DeadLetterRecord } from './wire-types.js';
import type { Rejected } from './routed.js';

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
  return {
    // Deterministic: the same source position always yields the same id, so redelivered dead letters deduplicate.
    dead_letter_id: createHash('sha256').update(`${rejected.route}|${source}`).digest('hex').slice(0, 32),
    route: rejected.route,
    reason_code: rejected.code,
    reason_detail: rejected.detail,
    source,
    source_topic: r.topic ?? null,
    source_partition: r.partition ?? null,
    source_offset: String(r.position.offset),
    original_key: r.key === undefined || r.key === null ? null : toBuffer(r.key),
    payload: toBuffer(r.value),
    customer_id: rejected.event?.customerId ?? null,
    event_time: rejected.event?.eventTime ?? null,
    received_time: r.receivedAt,
  };
}
