// Decodes raw records into activity events; a record that cannot be decoded becomes a dead-letter
// rejection with the codec's reason, and the stream goes on.
import { map, type OperatorFunction } from 'rxjs';
import type { RawRecord } from '../events/activity-event.js';
import { reject, type Routed } from '../events/routed.js';
import { ActivityCodec, DecodeError } from '../serde/activity-codec.js';

export function decodeRecord(codec: ActivityCodec, record: RawRecord): Routed {
  try {
    const event = decodeValue(codec, record);
    return { tag: 'accepted', record, event };
  } catch (err) {
    if (err instanceof DecodeError) return reject(record, 'dead-letter', err.code, err.detail);
    return reject(record, 'dead-letter', 'DECODE_FAILED', (err as Error).message);
  }
}

function decodeValue(codec: ActivityCodec, record: RawRecord) {
  const v = record.value;
  switch (record.format) {
    case 'json':
      return codec.fromJsonText(typeof v === 'string' ? v : Buffer.from(v as Uint8Array).toString('utf8'));
    case 'json-object':
      return codec.fromJsonObject(v);
    case 'avro':
      return codec.fromAvroBuffer(Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array));
    case 'avro-object':
      return codec.fromAvroObject(v);
  }
}

export function decodeRecords(codec: ActivityCodec): OperatorFunction<RawRecord, Routed> {
  return map((record) => decodeRecord(codec, record));
}
