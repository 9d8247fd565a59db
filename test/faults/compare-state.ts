// Compares the customer states a fault run left in Redis with the reference run's, through the
// store's own scan (decoded exactly as the engine reads them).
import type { CustomerState } from '../../src/state/customer-state.js';
import type { StateStore } from '../../src/state/state-store.js';
import { canonicalJson, fieldDiffs } from './canonical-json.js';

/**
 * Delivery bookkeeping that may differ between two correct runs (an outbox is trimmed whenever
 * offsets happen to be committed). Everything else — windows, archive, positions, lastScore — must match.
 */
const BOOKKEEPING_FIELDS: readonly string[] = ['outbox'];

export interface StateComparison {
  readonly customers: number;
  readonly mismatched: number;
  readonly examples: readonly string[];
}

const comparable = (s: CustomerState): Record<string, unknown> =>
  Object.fromEntries(Object.entries(JSON.parse(JSON.stringify(s)) as Record<string, unknown>).filter(([k]) => !BOOKKEEPING_FIELDS.includes(k)));

/** Pure: every customer in either map; a customer present on one side only is a mismatch. */
export function compareStates(reference: ReadonlyMap<string, CustomerState>, faulted: ReadonlyMap<string, CustomerState>, maxExamples = 5): StateComparison {
  const ids = [...new Set([...reference.keys(), ...faulted.keys()])].sort();
  const examples: string[] = [];
  let mismatched = 0;
  for (const id of ids) {
    const a = reference.get(id);
    const b = faulted.get(id);
    const x = a && comparable(a);
    const y = b && comparable(b);
    if (x && y && canonicalJson(x) === canonicalJson(y)) continue;
    mismatched++;
    if (examples.length < maxExamples) examples.push(`  state ${id}: ${x && y ? fieldDiffs(x, y).join('; ') : x ? 'missing in the fault run' : 'absent from the reference'}`);
  }
  return { customers: ids.length, mismatched, examples };
}

/** Every customer of a store by id, through its own scan. */
export async function scanStates(store: Pick<StateStore, 'scan'>): Promise<Map<string, CustomerState>> {
  const out = new Map<string, CustomerState>();
  for await (const page of store.scan()) for (const s of page) out.set(s.customerId, s);
  return out;
}

export function stateLine(c: StateComparison): string {
  return `faults: state customers ${c.customers}, mismatched ${c.mismatched}`;
}
