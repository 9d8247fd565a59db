// Which broker errors are about the records themselves (their size or shape) rather than the
// broker's state: sending the same record again can never succeed, so they must not be retried.
// CORRUPT_MESSAGE is included because brokers also use it for records over the valid size; kafkajs
// has already retried it (it is retriable at the protocol level) before it reaches us.
export const RECORD_ERROR_TYPES: ReadonlySet<string> = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'CORRUPT_MESSAGE']);

/** The kafkajs protocol error type (e.g. MESSAGE_TOO_LARGE) if err, its causes or aggregated errors name one. */
export function recordErrorType(err: unknown, depth = 0): string | null {
  if (depth > 8 || err === null || typeof err !== 'object') return null;
  const e = err as { type?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.type === 'string' && RECORD_ERROR_TYPES.has(e.type)) return e.type;
  const nested = [e.cause, ...(Array.isArray(e.errors) ? e.errors : [])];
  for (const n of nested) {
    const t = recordErrorType(n, depth + 1);
    if (t) return t;
  }
  return null;
}
