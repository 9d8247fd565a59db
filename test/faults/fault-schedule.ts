// The fault plan of a run, from its seed alone: which fault fires at which share of the events
// committed. Pure, so the same seed always yields the same plan and a unit test can check its shape.
import { Prng } from '../../src/simulator/prng.js';
import type { FaultCounts } from './fault-options.js';

export type FaultKind = 'kill' | 'sigterm' | 'redis-restart' | 'broker-restart' | 'join' | 'leave' | 'cluster-failover';

export interface PlannedFault {
  readonly kind: FaultKind;
  /** Fires once the fault run's group has committed this share of the events. */
  readonly atShare: number;
  /** Extra wait after the share is reached, so faults do not line up with offset commits. */
  readonly jitterMs: number;
}

/** Independent of the simulator's own streams (1–4) under the same seed. */
const SCHEDULE_STREAM = 91;

/**
 * One point per fault, stratified over [from, to) (one uniform point in each of n equal slots, so
 * faults spread over the whole run and never pile up), kinds shuffled over the points. Joins and
 * leaves are then relabelled to alternate, so a second engine is always in the group between them.
 */
export function planFaults(counts: FaultCounts, seed: number, window: { from: number; to: number } = { from: 0.04, to: 0.92 }): PlannedFault[] {
  const kinds: FaultKind[] = [
    ...Array<FaultKind>(counts.kills).fill('kill'),
    ...Array<FaultKind>(counts.sigterms).fill('sigterm'),
    ...Array<FaultKind>(counts.redisRestarts).fill('redis-restart'),
    ...Array<FaultKind>(counts.brokerRestarts).fill('broker-restart'),
    ...Array<FaultKind>(counts.rebalances).fill('join'),
    ...Array<FaultKind>(counts.rebalances).fill('leave'),
    ...Array<FaultKind>(counts.failovers).fill('cluster-failover'),
  ];
  const rng = new Prng(seed, SCHEDULE_STREAM);
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  let rebalanceTokens = 0;
  const ordered = kinds.map((k) => (k === 'join' || k === 'leave' ? (rebalanceTokens++ % 2 === 0 ? 'join' : 'leave') : k));
  const slot = (window.to - window.from) / Math.max(1, ordered.length);
  return ordered.map((kind, i) => ({ kind, atShare: window.from + slot * (i + rng.next()), jitterMs: rng.int(500) }));
}
