// Retries a batch whose processing failed with a retriable error (Redis or Kafka briefly away), with
// exponential backoff. Safe because every step is idempotent: state by source position, outputs by
// deterministic id; a retried batch may re-emit outputs, never double-count state.
import { retry, timer, type MonoTypeOperatorFunction } from 'rxjs';
import { isRetriable } from '../errors.js';

export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

export function retryBatch<T>(policy: RetryPolicy, onRetry?: (err: unknown, attempt: number) => void): MonoTypeOperatorFunction<T> {
  return retry({
    count: policy.maxAttempts - 1,
    delay: (err: unknown, attempt: number) => {
      if (!isRetriable(err)) throw err;
      onRetry?.(err, attempt);
      return timer(Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (attempt - 1)));
    },
  });
}
