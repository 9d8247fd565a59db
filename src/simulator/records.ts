// What the simulator yields: valid activity events and deliberately defective NDJSON lines, each
// with the processing time at which it "arrives".

import type { ActivityEventJson } from '../events/wire-types.js';

export type BadRecordDefect =
  | 'malformed_json'
  | 'missing_field'
  | 'unknown_kind'
  | 'negative_duration'
  | 'absurd_amount'
  | 'future_time'
  | 'before_signup'
  | 'wrong_type';

export const BAD_RECORD_DEFECTS: readonly BadRecordDefect[] = Object.freeze([
  'malformed_json',
  'missing_field',
  'unknown_kind',
  'negative_duration',
  'absurd_amount',
  'future_time',
  'before_signup',
  'wrong_type',
]);

export type SimulatedRecord =
  /** emitTime ≥ event.event_time; equal unless the event was chosen to arrive late. */
  | { type: 'event'; event: ActivityEventJson; emitTime: number }
  /** raw is one NDJSON line (no trailing newline). */
  | { type: 'bad'; raw: string; defect: BadRecordDefect; emitTime: number };

/** The record as one NDJSON line (no trailing newline), e.g. for a replay file. */
export function recordToNdjson(record: SimulatedRecord): string {
  return record.type === 'event' ? JSON.stringify(record.event) : record.raw;
}
