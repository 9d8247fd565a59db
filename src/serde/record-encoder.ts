// The encoding port of the Kafka sinks: one output record → the bytes of a Kafka value.
export interface RecordEncoder<T> {
  /** One-time async set-up (e.g. resolve or register the schema id); called before the first encode. */
  prepare(): Promise<void>;
  encode(record: T): Buffer;
}
