// The multi-instance scenarios: which engine of a consumer group starts, joins, leaves (SIGTERM) or
// dies (kill -9) at which share of the events committed. Pure, so a unit test can check their shape:
// never more members than the scenario's size, a leave or kill only of a running member.

export type FleetAction = 'join' | 'leave' | 'kill';

export interface FleetStep {
  /** Fires once the run's group has committed this share of the events. */
  readonly atShare: number;
  readonly action: FleetAction;
  /** The member's role, e.g. 'engine-2' (its instance id too). */
  readonly member: string;
}

export interface FleetScenario {
  readonly name: string;
  /** The most engines in the group at once. */
  readonly instances: number;
  /** Started together before any event is consumed. */
  readonly initial: readonly string[];
  readonly steps: readonly FleetStep[];
}

/**
 * Two engines from the start: the second leaves and comes back, then the first is killed and
 * restarted (its partitions move after the session timeout, uncommitted records are redelivered).
 */
export const TWO_INSTANCES: FleetScenario = {
  name: 'two instances',
  instances: 2,
  initial: ['engine-1', 'engine-2'],
  steps: [
    { atShare: 0.15, action: 'leave', member: 'engine-2' },
    { atShare: 0.3, action: 'join', member: 'engine-2' },
    { atShare: 0.5, action: 'kill', member: 'engine-1' },
    { atShare: 0.6, action: 'join', member: 'engine-1' },
  ],
};

/** One engine, a second and a third join; the first leaves, the third is killed, the first rejoins, the second leaves. */
export const THREE_INSTANCES: FleetScenario = {
  name: 'three instances',
  instances: 3,
  initial: ['engine-1'],
  steps: [
    { atShare: 0.1, action: 'join', member: 'engine-2' },
    { atShare: 0.2, action: 'join', member: 'engine-3' },
    { atShare: 0.35, action: 'leave', member: 'engine-1' },
    { atShare: 0.5, action: 'kill', member: 'engine-3' },
    { atShare: 0.6, action: 'join', member: 'engine-1' },
    { atShare: 0.75, action: 'leave', member: 'engine-2' },
  ],
};

/** Throws unless the steps are ordered, stay within the scenario's size and only stop running members (and at least one keeps running). */
export function checkScenario(s: FleetScenario): void {
  const running = new Set<string>();
  for (const m of s.initial) {
    if (running.has(m)) throw new Error(`${s.name}: ${m} started twice`);
    running.add(m);
  }
  let last = 0;
  for (const step of s.steps) {
    if (!(step.atShare > last && step.atShare < 1)) throw new Error(`${s.name}: steps must be in increasing order within (0, 1), got ${step.atShare} after ${last}`);
    last = step.atShare;
    if (step.action === 'join') {
      if (running.has(step.member)) throw new Error(`${s.name}: ${step.member} joins while running`);
      running.add(step.member);
    } else {
      if (!running.delete(step.member)) throw new Error(`${s.name}: ${step.action} of ${step.member}, which is not running`);
      if (running.size === 0) throw new Error(`${s.name}: no engine left after the ${step.action} of ${step.member}`);
    }
    if (running.size > s.instances) throw new Error(`${s.name}: ${running.size} engines running, more than its ${s.instances}`);
  }
}

/** The most members running at once. */
export function peakMembers(s: FleetScenario): number {
  const running = new Set(s.initial);
  let peak = running.size;
  for (const step of s.steps) {
    if (step.action === 'join') running.add(step.member);
    else running.delete(step.member);
    peak = Math.max(peak, running.size);
  }
  return peak;
}
