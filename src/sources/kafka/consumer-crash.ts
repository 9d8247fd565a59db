// kafkajs reports a crash it will not restart from (a non-retriable error, or retries exhausted with
// restartOnFailure saying no) only as a CRASH event; the consumer is dead from then on. The records
// stream must fail with the reason, or the process lives on as a zombie that reports ready.
import { ChurnflowError, errorMessage } from '../../errors.js';

export interface CrashPayload {
  readonly error: unknown;
  readonly restart: boolean;
}

/**
 * A crash kafkajs will not restart from although its cause passes: the group coordinator not found
 * while a broker restarts. kafkajs classifies KafkaJSGroupCoordinatorNotFound as non-retriable
 * (tulios/kafkajs#1630, open), so a 5-second broker restart could end an engine (seen in the fault
 * test: one of two broker restarts). The source restarts the consumer itself a bounded number of times.
 */
export function isTransientCrash(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 6; depth++) {
    const x = e as { name?: string; cause?: unknown; originalError?: unknown };
    if (x.name === 'KafkaJSGroupCoordinatorNotFound') return true;
    e = x.cause ?? x.originalError;
  }
  return false;
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
