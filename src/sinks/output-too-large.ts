// A sink refused some records for their size: those records can never be written, however often
// the batch is retried, so the error is not retriable and says which records they were.
import { ChurnflowError } from '../errors.js';

export class OutputTooLargeError extends ChurnflowError {
  /** Indexes (into the records passed to write()) of the refused records; every other record was written. */
  readonly indexes: readonly number[];

  constructor(sink: string, indexes: readonly number[], cause: unknown) {
    super('CF_OUTPUT_TOO_LARGE', `${sink} refused ${indexes.length} record(s) as too large for it (the rest were written)`, { cause, retriable: false, details: { sink, indexes } });
    this.name = 'OutputTooLargeError';
    this.indexes = Object.freeze([...indexes]);
  }
}
