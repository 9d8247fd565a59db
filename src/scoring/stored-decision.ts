// What an event decided, as stored in its customer's outbox beside the state change it made
// (src/state/stage-deltas.ts): the risk event and the shadow model's event it produced, or that it was
// refused as before signup. A redelivered event re-emits exactly these records — same ids, same bytes,
// processing_time included — instead of recomputing them from a state that has moved on since.
import type { RiskEventRecord } from '../events/wire-types.js';

export interface StoredDecision {
  readonly risk?: RiskEventRecord;
  readonly shadow?: RiskEventRecord;
  /** The event was refused (dead-lettered) because it predates the customer's signup. */
  readonly beforeSignup?: true;
}

export function encodeDecision(decision: StoredDecision): string {
  return JSON.stringify(decision);
}

/** JSON keeps every field, its order and every double exactly, so a re-emitted record equals the first. */
export function decodeDecision(text: string): StoredDecision {
  return JSON.parse(text) as StoredDecision;
}
