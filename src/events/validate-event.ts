// Domain checks beyond the schema: id and string lengths, value ranges, timestamps in the future,
// times before signup.
// Pure: the reference "now" is passed in, so replays of old data and tests are deterministic.
import type { ActivityEvent } from './activity-event.js';

export interface RangeRule {
  readonly kind: string;
  readonly field: string;
  readonly min?: number;
  readonly max?: number;
}

export interface ValidationRules {
  readonly ranges: readonly RangeRule[];
  /** Events more than this far ahead of the clock are rejected (FUTURE_TIME). */
  readonly maxFutureMs: number;
  /** Earliest plausible event time (epoch ms); older ones are rejected (OUT_OF_RANGE). */
  readonly minEventTime: number;
  /** (kind, field) pairs holding a signup time that must not be after the event itself. */
  readonly signupFields: readonly { kind: string; field: string }[];
  /** Longest customer_id / event_id accepted (UTF-16 code units); longer ones are FIELD_TOO_LONG. */
  readonly maxIdLength: number;
  /** Longest string payload field accepted; bounds what a record can put into state and outputs. */
  readonly maxStringLength: number;
}

export interface Violation {
  readonly code: 'OUT_OF_RANGE' | 'FUTURE_TIME' | 'BEFORE_SIGNUP' | 'MISSING_FIELD' | 'FIELD_TOO_LONG';
  readonly detail: string;
}

export const DEFAULT_VALIDATION_RULES: ValidationRules = Object.freeze({
  ranges: Object.freeze([
    { kind: 'session', field: 'duration_seconds', min: 0, max: 86_400 },
    { kind: 'session', field: 'content_items', min: 0, max: 10_000 },
    { kind: 'payment', field: 'amount_cents', min: 0, max: 10_000_000 },
    { kind: 'payment', field: 'discount_cents', min: 0, max: 10_000_000 },
    { kind: 'support_ticket', field: 'satisfaction', min: 1, max: 5 },
    { kind: 'profile', field: 'age', min: 13, max: 120 },
  ]),
  maxFutureMs: 86_400_000,
  minEventTime: Date.UTC(2000, 0, 1),
  signupFields: Object.freeze([{ kind: 'profile', field: 'signup_time' }]),
  maxIdLength: 256,
  maxStringLength: 1024,
});

/** The detail names the field, its length and the limit, never the value: it could be megabytes. */
function tooLong(field: string, length: number, key: string, max: number): Violation {
  return { code: 'FIELD_TOO_LONG', detail: `${field} is ${length} characters long; validation.${key} allows ${max}` };
}

function checkLengths(event: ActivityEvent, rules: ValidationRules): Violation | null {
  if (event.customerId.length > rules.maxIdLength) return tooLong('customer_id', event.customerId.length, 'maxIdLength', rules.maxIdLength);
  if (event.eventId.length > rules.maxIdLength) return tooLong('event_id', event.eventId.length, 'maxIdLength', rules.maxIdLength);
  // for…in: no array per event on the hot path.
  for (const field in event.payload) {
    const v = event.payload[field];
    if (typeof v === 'string' && v.length > rules.maxStringLength) return tooLong(`${event.kind}.${field}`, v.length, 'maxStringLength', rules.maxStringLength);
  }
  return null;
}

export function validateEvent(event: ActivityEvent, rules: ValidationRules, nowMs: number): Violation | null {
  if (event.eventId.length === 0) return { code: 'MISSING_FIELD', detail: 'event_id is empty' };
  if (event.customerId.length === 0) return { code: 'MISSING_FIELD', detail: 'customer_id is empty' };
  const long = checkLengths(event, rules);
  if (long) return long;
  if (!Number.isSafeInteger(event.eventTime) || event.eventTime < rules.minEventTime) {
    return { code: 'OUT_OF_RANGE', detail: `event_time ${event.eventTime} is before ${new Date(rules.minEventTime).toISOString()}` };
  }
  if (event.eventTime > nowMs + rules.maxFutureMs) {
    return {
      code: 'FUTURE_TIME',
      // The clock reading stays out of the text: replays must produce identical dead letters.
      detail: `event_time ${new Date(event.eventTime).toISOString()} is more than ${rules.maxFutureMs} ms ahead of the engine's clock`,
    };
  }
  // Indexed loops: no iterator per event on the hot path.
  for (let k = 0; k < rules.ranges.length; k++) {
    const r = rules.ranges[k]!;
    if (r.kind !== event.kind) continue;
    const v = event.payload[r.field];
    if (v === null || v === undefined) continue;
    if (typeof v !== 'number' || Number.isNaN(v) || (r.min !== undefined && v < r.min) || (r.max !== undefined && v > r.max)) {
      return { code: 'OUT_OF_RANGE', detail: `${event.kind}.${r.field} = ${String(v)} is outside [${r.min ?? '-inf'}, ${r.max ?? '+inf'}]` };
    }
  }
  for (let k = 0; k < rules.signupFields.length; k++) {
    const s = rules.signupFields[k]!;
    if (s.kind !== event.kind) continue;
    const signup = event.payload[s.field];
    if (typeof signup === 'number' && signup > event.eventTime) {
      return { code: 'BEFORE_SIGNUP', detail: `${event.kind}.${s.field} ${new Date(signup).toISOString()} is after the event itself` };
    }
  }
  return null;
}
