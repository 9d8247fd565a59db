// Decodes raw records into activity events; a record that cannot be decoded becomes a dead-letter
// rejection with the codec's reason, and the stream goes on. A ChurnflowError from a decoder is a
// configuration fault (an input mapping that maps nothing): it fails the job instead.
import { map, type OperatorFunction } from 'rxjs';
import type { RawRecord } from '../events/activity-event.js';
import { ChurnflowError } from '../errors.js';
import { reject, type Routed } from '../events/routed.js';
import { DecodeError } from '../serde/activity-codec.js';
import type { RecordDecoder } from '../serde/record-decoder.js';

export function decodeRecord(decoder: RecordDecoder, record: RawRecord): Routed {
  try {
    const event = decoder.decode(record);
    return { tag: 'accepted', record, event };
  } catch (err) {
    if (err instanceof DecodeError) return reject(record, 'dead-letter', err.code, err.detail);
    if (err instanceof ChurnflowError) throw err;
    return reject(record, 'dead-letter', 'DECODE_FAILED', (err as Error).message);
  }
}

export function decodeRecords(decoder: RecordDecoder): OperatorFunction<RawRecord, Routed> {
  return map((record) => decodeRecord(decoder, record));
}
