// The simulator's events as one stream's state deltas (offsets 0, 1, …), for tests that fill a store
// with realistic customers.
import type { ActivityEvent } from '../../src/events/activity-event.js';
import type { CompiledSpec } from '../../src/features/compile-spec.js';
import { simulate, type SimulatorOptions } from '../../src/simulator/index.js';
import type { StateDelta } from '../../src/state/customer-state.js';

export function simulatedStreamDeltas(spec: Pick<CompiledSpec, 'deltaFor'>, sim: SimulatorOptions, stream = 'activity/0'): StateDelta[] {
  const deltas: StateDelta[] = [];
  let offset = 0;
  for (const rec of simulate(sim)) {
    if (rec.type !== 'event') continue;
    const e = rec.event;
    const event: ActivityEvent = { eventId: e.event_id, customerId: e.customer_id, eventTime: e.event_time, kind: e.kind, payload: e.payload as unknown as ActivityEvent['payload'] };
    deltas.push(spec.deltaFor(event, { stream, offset: offset++ }));
  }
  return deltas;
}
