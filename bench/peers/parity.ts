// The peer must compute what churnflow computes: its final totals for a sample of customers against
// churnflow's own feature code (compileSpec + applyDelta + evaluate) over the same events, as of the
// same time. Pure: the events and the peer's dump are passed in.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { ActivityEvent } from '../../src/events/activity-event.js';
import type { CompiledSpec } from '../../src/features/compile-spec.js';
import { applyDelta, emptyState } from '../../src/state/customer-state.js';

const dumpLine = z.object({ customer_id: z.string(), as_of: z.number(), features: z.record(z.string(), z.number()) });
export type PeerRow = z.infer<typeof dumpLine>;

export function readPeerDump(file: string): Map<string, PeerRow> {
  const rows = new Map<string, PeerRow>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const row = dumpLine.parse(JSON.parse(line));
    rows.set(row.customer_id, row);
  }
  return rows;
}

export interface ParityReport {
  readonly customers: number;
  readonly features: number;
  readonly compared: number;
  readonly differences: readonly string[];
}

/**
 * Folds each sampled customer's events (in topic order) into a churnflow state, evaluates it as of the
 * peer's as_of and compares every feature the peer reports (all must be columns of the spec).
 */
export function checkParity(spec: CompiledSpec, eventsByCustomer: ReadonlyMap<string, readonly ActivityEvent[]>, peer: ReadonlyMap<string, PeerRow>): ParityReport {
  const column = new Map(spec.columns.map((c, i) => [c.name, i]));
  const differences: string[] = [];
  let compared = 0;
  let features = 0;
  for (const [customerId, events] of eventsByCustomer) {
    const row = peer.get(customerId);
    if (!row) {
      differences.push(`${customerId}: missing from the peer's store`);
      continue;
    }
    const state = emptyState(customerId);
    events.forEach((e, offset) => applyDelta(state, spec.deltaFor(e, { stream: `parity/${customerId}`, offset }), spec.layout));
    const values = spec.evaluate(state, row.as_of);
    features = Object.keys(row.features).length;
    for (const [name, peerValue] of Object.entries(row.features)) {
      const i = column.get(name);
      if (i === undefined) {
        differences.push(`${customerId}: the peer reports '${name}', which is no column of spec ${spec.spec.name}`);
        continue;
      }
      compared++;
      if (values[i] !== peerValue) differences.push(`${customerId} ${name}: churnflow ${values[i]}, peer ${peerValue}`);
    }
  }
  return { customers: eventsByCustomer.size, features, compared, differences };
}
