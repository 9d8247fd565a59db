// Produces an activity stream to Kafka, keyed by customer (so a customer lives on one partition):
// `churnflow simulate --to kafka` and the integration tests use it. Defective simulated records are
// produced as the broken bytes a misbehaving producer would send, so every dead-letter path is hit.
import type { IHeaders } from 'kafkajs';
import type { ActivityEvent } from '../events/activity-event.js';
import type { ActivityCodec } from '../serde/activity-codec.js';
import type { RecordEncoder } from '../serde/record-encoder.js';
import type { SimulatedRecord } from '../simulator/index.js';
import type { KafkaProducerPool } from './kafka-sink.js';

export type CorruptKind = 'not_avro' | 'unknown_schema_id' | 'truncated' | 'garbage_body';
export const CORRUPT_KINDS: readonly CorruptKind[] = ['not_avro', 'unknown_schema_id', 'truncated', 'garbage_body'];

export interface ProducedCounts {
  events: number;
  /** Schema-valid records with bad values (ranges, times): they reach validation. */
  invalid: number;
  /** Records whose bytes cannot be decoded, by corruption kind. */
  corrupt: Record<CorruptKind, number>;
}

/** The bytes of a framed record damaged in a given way (magic byte 0 + schema id + Avro body is the valid form). */
export function corruptValue(kind: CorruptKind, valid: Buffer, raw: string): Buffer {
  switch (kind) {
    case 'not_avro':
      return Buffer.from(raw, 'utf8'); // plain JSON: the first byte is '{', not the magic byte
    case 'unknown_schema_id': {
      const b = Buffer.from(valid);
      b.writeInt32BE(0x7ffffff0, 1);
      return b;
    }
    case 'truncated':
      return valid.subarray(0, Math.max(6, Math.floor(valid.length / 2)));
    case 'garbage_body':
      return Buffer.concat([valid.subarray(0, 5), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f])]);
  }
}

export async function produceActivity(
  records: Iterable<SimulatedRecord>,
  target: { pool: KafkaProducerPool; topic: string; format: 'confluent-avro' | 'json'; encoder: RecordEncoder<ActivityEvent>; codec: ActivityCodec; batchSize?: number },
): Promise<ProducedCounts> {
  const counts: ProducedCounts = { events: 0, invalid: 0, corrupt: { not_avro: 0, unknown_schema_id: 0, truncated: 0, garbage_body: 0 } };
  const producer = await target.pool.get();
  if (target.format === 'confluent-avro') await target.encoder.prepare();
  // Message timestamps carry the event time, so a replay can start "from a timestamp" in event time.
  let pending: { key: string | null; value: Buffer; headers?: IHeaders; timestamp: string }[] = [];
  let lastValid: Buffer | undefined;
  let lastTime = 0;
  let bad = 0;
  const flush = async () => {
    if (pending.length === 0) return;
    await producer.send({ topic: target.topic, messages: pending, acks: -1 });
    pending = [];
  };
  for (const rec of records) {
    if (rec.type === 'event') {
      const event = target.codec.fromJsonObject(rec.event);
      const value = target.format === 'json' ? Buffer.from(JSON.stringify(rec.event)) : target.encoder.encode(event);
      lastValid = value;
      lastTime = event.eventTime;
      pending.push({ key: event.customerId, value, timestamp: String(event.eventTime) });
      counts.events++;
    } else if (target.format === 'json') {
      pending.push({ key: null, value: Buffer.from(rec.raw), headers: { 'churnflow-defect': rec.defect }, timestamp: String(lastTime) });
      counts.invalid++;
    } else {
      // Schema-valid but wrong values travel as proper Avro; anything else becomes corrupt bytes.
      let event: ActivityEvent | undefined;
      try {
        event = target.codec.fromJsonText(rec.raw);
      } catch {
        event = undefined;
      }
      if (event) {
        pending.push({ key: event.customerId, value: target.encoder.encode(event), headers: { 'churnflow-defect': rec.defect }, timestamp: String(lastTime) });
        counts.invalid++;
      } else if (lastValid) {
        const kind = CORRUPT_KINDS[bad++ % CORRUPT_KINDS.length]!;
        pending.push({ key: null, value: corruptValue(kind, lastValid, rec.raw), headers: { 'churnflow-defect': kind }, timestamp: String(lastTime) });
        counts.corrupt[kind]++;
      }
    }
    if (pending.length >= (target.batchSize ?? 500)) await flush();
  }
  await flush();
  return counts;
}
