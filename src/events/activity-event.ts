// The engine's internal view of one customer activity. Generic on purpose: the feature spec names
// kinds and payload fields, so the engine itself knows nothing about "logins".

export type Scalar = string | number | boolean | null;

export interface ActivityEvent {
  readonly eventId: string;
  readonly customerId: string;
  /** Event time, epoch ms. */
  readonly eventTime: number;
  /** Lower-snake name of the payload branch, e.g. `session`, `plan_change`. */
  readonly kind: string;
  /** Payload fields by their schema names (snake_case). */
  readonly payload: Readonly<Record<string, Scalar>>;
}

/** Where a record came from; `stream` is an ordered log (a Kafka partition, a file) and `offset` its position in it. */
export interface SourcePosition {
  readonly stream: string;
  readonly offset: number;
}

/** A record as a source delivers it, before decoding. */
export interface RawRecord {
  readonly position: SourcePosition;
  /**
   * json: NDJSON text/bytes; json-object: a parsed NDJSON object; avro: plain Avro binary of the
   * activity schema; avro-object: a record read from an Avro container file; confluent-avro: Kafka
   * value in the Schema Registry wire format (magic byte 0, 4-byte schema id, Avro body).
   */
  readonly format: 'json' | 'json-object' | 'avro' | 'avro-object' | 'confluent-avro';
  readonly value: unknown;
  readonly key?: Uint8Array | string | null;
  readonly topic?: string;
  readonly partition?: number;
  /** Processing time at which the source received it, epoch ms. */
  readonly receivedAt: number;
  /** The last record of what the source fetched together (a Kafka fetch): a micro-batch may close after it. */
  readonly endOfFetch?: boolean;
  /**
   * The source's ownership epoch of the record's partition when it was emitted (Kafka: each time this
   * member is assigned a partition it did not own, the partition gets a new epoch). RecordSource.isCurrent
   * compares it with the partition's epoch now; sources without partitions leave it out.
   */
  readonly ownership?: number;
}

export const DAY_MS = 86_400_000;
