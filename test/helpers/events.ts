// Small builders for tests: events, raw records, and a day/time helper.
import { DAY_MS, type ActivityEvent, type RawRecord, type Scalar } from '../../src/events/activity-event.js';

export const T0 = Date.UTC(2025, 0, 1);
export const day = (n: number, hours = 12) => T0 + n * DAY_MS + hours * 3_600_000;

let seq = 0;
export function ev(kind: string, customerId: string, eventTime: number, payload: Record<string, Scalar> = {}, eventId?: string): ActivityEvent {
  return { eventId: eventId ?? `e${++seq}`, customerId, eventTime, kind, payload };
}

export function profile(customerId: string, eventTime: number, over: Record<string, Scalar> = {}): ActivityEvent {
  return ev('profile', customerId, eventTime, {
    signup_time: eventTime - 100 * DAY_MS,
    plan: 'standard',
    payment_method: 'card',
    region: 'eu',
    age: 30,
    renewal_time: eventTime + 10 * DAY_MS,
    ...over,
  });
}

export function raw(value: unknown, offset: number, stream = 'test', format: RawRecord['format'] = 'json-object'): RawRecord {
  return { position: { stream, offset }, format, value, receivedAt: 0 };
}

export function jsonEvent(e: ActivityEvent): Record<string, unknown> {
  return { event_id: e.eventId, customer_id: e.customerId, event_time: e.eventTime, kind: e.kind, payload: e.payload };
}
