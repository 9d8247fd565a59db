// Shared helpers for the simulator tests: run a small simulation once and index what it produced.

import { createHash } from 'node:crypto';
import type { ActivityEventJson, ProfilePayload } from '../../../src/events/wire-types.js';
import { recordToNdjson, simulate, type SimulatedRecord, type SimulatorOptions } from '../../../src/simulator/index.js';

export const DAY = 86_400_000;

export function collect(options: Partial<SimulatorOptions>): SimulatedRecord[] {
  return [...simulate(options)];
}

export function validEvents(records: readonly SimulatedRecord[]): ActivityEventJson[] {
  const out: ActivityEventJson[] = [];
  for (const r of records) if (r.type === 'event') out.push(r.event);
  return out;
}

export function hashRecords(records: Iterable<SimulatedRecord>): string {
  const h = createHash('sha256');
  for (const r of records) h.update(`${r.emitTime}|${recordToNdjson(r)}\n`);
  return h.digest('hex');
}

/** First profile per customer (in event-time order), i.e. what the customer looked like on arrival. */
export function firstProfiles(events: readonly ActivityEventJson[]): Map<string, ProfilePayload> {
  const out = new Map<string, ProfilePayload>();
  const sorted = [...events].sort((a, b) => a.event_time - b.event_time);
  for (const e of sorted) if (e.kind === 'profile' && !out.has(e.customer_id)) out.set(e.customer_id, e.payload);
  return out;
}

export function cancelTimes(events: readonly ActivityEventJson[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of events) if (e.kind === 'plan_change' && e.payload.change === 'CANCEL') out.set(e.customer_id, e.event_time);
  return out;
}

/** Events grouped by customer, each group in event-time order. */
export function byCustomer(events: readonly ActivityEventJson[]): Map<string, ActivityEventJson[]> {
  const out = new Map<string, ActivityEventJson[]>();
  for (const e of events) {
    let list = out.get(e.customer_id);
    if (list === undefined) out.set(e.customer_id, (list = []));
    list.push(e);
  }
  for (const list of out.values()) list.sort((a, b) => a.event_time - b.event_time);
  return out;
}
