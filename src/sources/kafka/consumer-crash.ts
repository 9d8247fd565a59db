// kafkajs reports a crash it will not restart from (a non-retriable error, or retries exhausted with
// restartOnFailure saying no) only as a CRASH event; the consumer is dead from then on. The records
// stream must fail with the reason, or the process lives on as a zombie that reports ready.
import { ChurnflowError, errorMessage } from '../../errors.js';

export interface CrashPayload {
  readonly error: unknown;
  readonly restart: boolean;
}

/** The error to fail the records stream with, or undefined when kafkajs restarts the consumer itself. */
export function fatalCrash(payload: CrashPayload): ChurnflowError | undefined {
  if (payload.restart) return undefined;
  return new ChurnflowError('CF_SOURCE_FAILED', `kafka consumer crashed and will not restart: ${errorMessage(payload.error)}`, {
    cause: payload.error,
    retriable: false,
    details: { reason: errorMessage(payload.error) },
  });
}
