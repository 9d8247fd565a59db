// The decoding port of the record stages: turns one raw record into an activity event or throws a
// DecodeError with a reason code. Implementations: ActivityCodec (NDJSON, plain Avro, container files),
// the Schema Registry decoder (Confluent wire format) and input mappings for users' own schemas.
import type { ActivityEvent, RawRecord } from '../events/activity-event.js';

export interface RecordDecoder {
  /** Synchronous on purpose: anything slow (fetching schemas) happens before, per batch, in prepare(). */
  decode(record: RawRecord): ActivityEvent;
  /** Optional async warm-up for a batch of records (e.g. fetch unknown schema ids); never throws for bad records. */
  prepare?(records: readonly RawRecord[]): Promise<void>;
}
