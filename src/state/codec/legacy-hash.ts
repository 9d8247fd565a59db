// The stored format before the binary encoding (format "0"): one JSON field per day bucket, slot ids
// aliased through a dictionary field. A customer still in this format is read here and written back
// in the binary format by its next write (RedisStateStore.write deletes the old fields), so a Redis
// holding the old layout migrates customer by customer as their events arrive; nothing needs to stop.
//
//   m maxEventTime · p positions {stream: offset} · k slot dictionary [slotId, ...] · a archive and
//   <day> buckets [alias, value, ...] · e recent event ids [[hash, time], ...] · o:<stream>@<offset> an
//   outbox entry · s lastScore · h the shadow model's last score · v version
import { emptyState, type CustomerState, type LastScore } from '../customer-state.js';
import type { SlotValue, SlotValues } from '../slots.js';
import { formatError } from './byte-io.js';

const DAY_FIELD = /^-?\d+$/;

/** Whether a hash's fields are the JSON layout (it has none of the binary layout's `b`). */
export function isLegacyHash(fields: ReadonlyMap<string, unknown>): boolean {
  return !fields.has('b') && (fields.has('m') || fields.has('p'));
}

/** A customer's JSON-layout hash (field, value pairs) as a CustomerState. */
export function decodeLegacyHash(customerId: string, entries: Iterable<readonly [string, string]>): CustomerState {
  const list = [...entries];
  const state = emptyState(customerId);
  const what = `customer ${customerId} (JSON hash layout)`;
  const parse = <T>(field: string, text: string): T => {
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw formatError(what, `field ${field} is not JSON: ${(err as Error).message}`);
    }
  };
  const dictText = list.find(([f]) => f === 'k')?.[1];
  const dict: string[] = dictText === undefined ? [] : parse<string[]>('k', dictText);
  const expand = (field: string, text: string): SlotValues => {
    const flat = parse<(number | SlotValue)[]>(field, text);
    const out: SlotValues = {};
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const slot = dict[flat[i] as number];
      if (slot === undefined) throw formatError(what, `slot alias ${String(flat[i])} is not in the hash's dictionary`);
      out[slot] = flat[i + 1]!;
    }
    return out;
  };
  for (const [field, value] of list) {
    if (field === 'm') state.maxEventTime = Number(value);
    else if (field === 'p') state.positions = parse<Record<string, number>>(field, value);
    else if (field === 'a') state.archive = expand(field, value);
    else if (field === 's') state.lastScore = parse<LastScore>(field, value);
    else if (field === 'h') state.shadowScore = parse<LastScore>(field, value);
    else if (field.startsWith('o:')) state.outbox[field.slice(2)] = value;
    else if (field === 'e') state.recentEvents = parse<[number, number][]>(field, value);
    else if (DAY_FIELD.test(field)) state.buckets[field] = expand(field, value);
  }
  return state;
}

/**
 * The JSON-layout hash of a state, as the engines before the binary format wrote it (field → value).
 * Kept to measure the old layout beside the new one (bench/redis-state.bench.ts) and to test the
 * migration; the store never writes it.
 */
export function encodeLegacyHash(state: Readonly<CustomerState>): Record<string, string> {
  const dict: string[] = [];
  const aliasOf = new Map<string, number>();
  const slots = (values: SlotValues): string => {
    const flat: (number | SlotValue)[] = [];
    for (const slot in values) {
      let a = aliasOf.get(slot);
      if (a === undefined) {
        a = dict.length;
        dict.push(slot);
        aliasOf.set(slot, a);
      }
      flat.push(a, values[slot]!);
    }
    return JSON.stringify(flat);
  };
  const out: Record<string, string> = { m: String(state.maxEventTime), p: JSON.stringify(state.positions) };
  for (const day in state.buckets) out[day] = slots(state.buckets[day]!);
  if (Object.keys(state.archive).length > 0) out.a = slots(state.archive);
  if (dict.length > 0) out.k = JSON.stringify(dict);
  if (state.recentEvents.length > 0) out.e = JSON.stringify(state.recentEvents);
  for (const key in state.outbox) out[`o:${key}`] = state.outbox[key]!;
  if (state.lastScore) out.s = JSON.stringify(state.lastScore);
  if (state.shadowScore) out.h = JSON.stringify(state.shadowScore);
  return out;
}
