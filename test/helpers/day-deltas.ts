// A three-slot layout (a sum, a bit set, a latest value) and deltas touching all three on a given day:
// what the state-layer walks (copies, checkouts, expiry) change states with.
import { DAY_MS } from '../../src/events/activity-event.js';
import type { StateDelta, StateLayout } from '../../src/state/customer-state.js';

/** Six days kept: a walk of a few hundred steps expires days into the archive many times. */
export const dayLayout: StateLayout = { retentionDays: 6, merges: new Map([['n', 'add'], ['b', 'bits'], ['l', 'last']]) };

/** Deltas for customer 'c' at consecutive offsets of stream 's' (each event id new). */
export function dayDeltas(): (day: number, n: number) => StateDelta {
  let offset = 0;
  return (day, n) => {
    const t = day * DAY_MS + n;
    return {
      customerId: 'c',
      eventId: `e${offset}`,
      eventTime: t,
      position: { stream: 's', offset: offset++ },
      ops: [
        { slot: 'n', merge: 'add', value: n },
        { slot: 'b', merge: 'bits', value: n % 256 },
        { slot: 'l', merge: 'last', value: [t, `v${n}`] },
      ],
    };
  };
}
