// Typed constructors for the NDJSON activity events the simulator emits, one per kind, so each
// payload is checked against wire-types.ts without casts.

import type {
  ActivityEventJson,
  LoginPayload,
  PaymentPayload,
  PlanChangePayload,
  ProfilePayload,
  SessionPayload,
  SupportTicketPayload,
} from '../events/wire-types.js';

/** Who an event belongs to and the id it gets; ids are `${customerId}-${seq}`, seq per customer. */
export interface EventOwner {
  readonly id: string;
  seq: number;
}

function nextId(owner: EventOwner): string {
  return `${owner.id}-${owner.seq++}`;
}

export function loginEvent(o: EventOwner, t: number, payload: LoginPayload): ActivityEventJson {
  return { event_id: nextId(o), customer_id: o.id, event_time: t, kind: 'login', payload };
}

export function sessionEvent(o: EventOwner, t: number, payload: SessionPayload): ActivityEventJson {
  return { event_id: nextId(o), customer_id: o.id, event_time: t, kind: 'session', payload };
}

export function paymentEvent(o: EventOwner, t: number, payload: PaymentPayload): ActivityEventJson {
  return { event_id: nextId(o), customer_id: o.id, event_time: t, kind: 'payment', payload };
}

export function planChangeEvent(o: EventOwner, t: number, payload: PlanChangePayload): ActivityEventJson {
  return { event_id: nextId(o), customer_id: o.id, event_time: t, kind: 'plan_change', payload };
}

export function supportTicketEvent(o: EventOwner, t: number, payload: SupportTicketPayload): ActivityEventJson {
  return { event_id: nextId(o), customer_id: o.id, event_time: t, kind: 'support_ticket', payload };
}

export function profileEvent(o: EventOwner, t: number, payload: ProfilePayload): ActivityEventJson {
  return { event_id: nextId(o), customer_id: o.id, event_time: t, kind: 'profile', payload };
}
