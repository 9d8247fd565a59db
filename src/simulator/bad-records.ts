// Deliberately defective NDJSON lines, derived from a real event so they look like plausible
// traffic, one defect kind per record in rotation so every kind shows up even at low rates.

import { DAY_MS } from '../events/activity-event.js';
import type { ActivityEventJson } from '../events/wire-types.js';
import { HOUR_MS } from './catalogue.js';
import type { Customer } from './customer.js';
import { Prng, STREAM } from './prng.js';
import { BAD_RECORD_DEFECTS, type BadRecordDefect, type SimulatedRecord } from './records.js';

const UNKNOWN_KINDS = ['page_view', 'refund', 'telemetry', 'gift', 'trial_start'] as const;
const REQUIRED_ENVELOPE_FIELDS = ['event_id', 'customer_id', 'event_time', 'payload'] as const;
const ABSURD_AMOUNT_CENTS = 1e12;
const YEAR_MS = 365 * DAY_MS;

type JsonObject = Record<string, unknown>;

export class BadRecordFactory {
  private readonly rng: Prng;
  private readonly endTime: number;
  private count = 0;
  /** Where the rotation starts, so different seeds do not all begin with the same defect. */
  private readonly offset: number;

  constructor(seed: number, endTime: number) {
    this.rng = new Prng(seed, STREAM.bad, 1);
    this.endTime = endTime;
    this.offset = this.rng.int(BAD_RECORD_DEFECTS.length);
  }

  /** A defective record modelled on `template` (an event of customer `c`) arriving at `emitTime`. */
  build(c: Customer, template: ActivityEventJson, emitTime: number): SimulatedRecord {
    const n = this.count++;
    const defect = BAD_RECORD_DEFECTS[(this.offset + n) % BAD_RECORD_DEFECTS.length] as BadRecordDefect;
    const rng = this.rng;
    // Own id space (`-b`) so a bad record never collides with, or dedups against, a valid event.
    const obj: JsonObject = {
      event_id: `${c.id}-b${n}`,
      customer_id: template.customer_id,
      event_time: template.event_time,
      kind: template.kind,
      payload: template.payload,
    };
    switch (defect) {
      case 'malformed_json': {
        // Any proper prefix of a JSON object's text is unparseable (the closing brace is missing).
        const text = JSON.stringify(obj);
        return { type: 'bad', raw: text.slice(0, Math.max(1, Math.floor(text.length * rng.range(0.2, 0.95)))), defect, emitTime };
      }
      case 'missing_field':
        delete obj[rng.pick(REQUIRED_ENVELOPE_FIELDS)];
        break;
      case 'unknown_kind':
        obj['kind'] = rng.pick(UNKNOWN_KINDS);
        break;
      case 'negative_duration':
        obj['kind'] = 'session';
        obj['payload'] = { duration_seconds: -(1 + rng.int(3600)), content_items: 1, content_id: null };
        break;
      case 'absurd_amount':
        obj['kind'] = 'payment';
        obj['payload'] = {
          status: 'SUCCEEDED',
          amount_cents: ABSURD_AMOUNT_CENTS + rng.int(1e9),
          discount_cents: 0,
          currency: c.region.currency,
        };
        break;
      case 'future_time':
        obj['event_time'] = this.endTime + 2 * YEAR_MS + rng.int(3 * YEAR_MS);
        break;
      case 'before_signup':
        obj['event_time'] = c.signupTime - HOUR_MS - rng.int(30 * DAY_MS);
        break;
      case 'wrong_type':
        wrongType(obj, rng.int(3));
        break;
    }
    return { type: 'bad', raw: JSON.stringify(obj), defect, emitTime };
  }
}

/** One field with the wrong JSON type: a timestamp as text, an id as a number, a payload as a string. */
function wrongType(obj: JsonObject, variant: number): void {
  if (variant === 0) obj['event_time'] = new Date(obj['event_time'] as number).toISOString();
  else if (variant === 1) obj['customer_id'] = Number(String(obj['customer_id']).replace(/\D/g, ''));
  else obj['payload'] = JSON.stringify(obj['payload']);
}
