// Experiment readout: did contacting at-risk customers (treatment) lower churn against leaving them
// alone (control)? Assigns each customer once, follows it for the horizon, compares the arms' rates.
import { DAY_MS } from '../events/activity-event.js';
import { twoProportionTest, type TwoProportionTest } from './two-proportions.js';

/** The fields of a RiskEventRecord the readout reads. */
export interface RiskEventView {
  readonly event_id: string;
  readonly customer_id: string;
  readonly event_time: number;
  readonly above_threshold: boolean;
  readonly experiment_arm: string | null;
}

export interface ArmAssignment {
  readonly customerId: string;
  readonly arm: string;
  /** Event time of the assigning risk event: the customer is followed from here. */
  readonly assignedAt: number;
  readonly eventId: string;
}

export const ASSIGNMENT_RULE =
  'a customer counts once, in the arm of its first risk event (by event time, then event id) that is above threshold and carries an experiment arm; ' +
  'below-threshold events and events without an arm assign nobody';

/** Folds one risk event into a customer's assignment (streaming-friendly: the earliest qualifying event wins, in any input order). */
export function assignArm(current: ArmAssignment | undefined, e: RiskEventView): ArmAssignment | undefined {
  if (!e.above_threshold || e.experiment_arm === null) return current;
  const candidate: ArmAssignment = { customerId: e.customer_id, arm: e.experiment_arm, assignedAt: e.event_time, eventId: e.event_id };
  if (current === undefined) return candidate;
  const earlier = e.event_time < current.assignedAt || (e.event_time === current.assignedAt && e.event_id < current.eventId);
  return earlier ? candidate : current;
}

export interface ReadoutOptions {
  readonly horizonDays: number;
  readonly treatmentArm: string;
  readonly controlArm: string;
  readonly confidence: number;
  /** Last instant the outcomes cover (epoch ms); customers whose horizon runs past it are left out. Null: outcomes cover everything. */
  readonly dataEnd: number | null;
}

export interface ArmResult {
  readonly arm: string;
  /** Customers with a complete horizon: the denominator. */
  readonly customers: number;
  readonly churned: number;
  readonly churnRate: number | null;
  /** Assigned, but the horizon runs past the outcome data: outcome unknown, left out. */
  readonly censored: number;
  /** Cancelled before the assigning risk event: nothing left to save, left out. */
  readonly alreadyChurned: number;
}

export interface ExperimentReadout {
  readonly rule: string;
  readonly horizonDays: number;
  readonly treatmentArm: string;
  readonly controlArm: string;
  readonly dataEnd: number | null;
  readonly arms: ArmResult[];
  readonly test: TwoProportionTest;
  /** (control rate − treatment rate) · treatment customers: churners the treatment prevented. */
  readonly impliedCustomersSaved: number | null;
  readonly impliedCustomersSavedCi: readonly [number, number] | null;
}

/**
 * labelTimes: each customer's label (cancellation) event times. A customer churned if a label event
 * falls in [assignedAt, assignedAt + horizon).
 */
export function experimentReadout(assignments: Iterable<ArmAssignment>, labelTimes: ReadonlyMap<string, readonly number[]>, options: ReadoutOptions): ExperimentReadout {
  const horizonMs = options.horizonDays * DAY_MS;
  const tally = new Map<string, { customers: number; churned: number; censored: number; alreadyChurned: number }>();
  for (const a of assignments) {
    const t = tally.get(a.arm) ?? { customers: 0, churned: 0, censored: 0, alreadyChurned: 0 };
    tally.set(a.arm, t);
    const times = labelTimes.get(a.customerId) ?? [];
    if (times.some((x) => x < a.assignedAt)) {
      t.alreadyChurned++;
      continue;
    }
    if (options.dataEnd !== null && a.assignedAt + horizonMs > options.dataEnd) {
      t.censored++;
      continue;
    }
    t.customers++;
    if (times.some((x) => x >= a.assignedAt && x < a.assignedAt + horizonMs)) t.churned++;
  }
  for (const arm of [options.treatmentArm, options.controlArm]) if (!tally.has(arm)) tally.set(arm, { customers: 0, churned: 0, censored: 0, alreadyChurned: 0 });
  const arms = [...tally.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([arm, t]) => ({ arm, ...t, churnRate: t.customers === 0 ? null : t.churned / t.customers }));
  const treatment = tally.get(options.treatmentArm)!;
  const control = tally.get(options.controlArm)!;
  const test = twoProportionTest(treatment.churned, treatment.customers, control.churned, control.customers, options.confidence);
  const n = treatment.customers;
  return {
    rule: ASSIGNMENT_RULE,
    horizonDays: options.horizonDays,
    treatmentArm: options.treatmentArm,
    controlArm: options.controlArm,
    dataEnd: options.dataEnd,
    arms,
    test,
    impliedCustomersSaved: test.difference === null ? null : -test.difference * n,
    impliedCustomersSavedCi: test.ci === null ? null : [-test.ci[1] * n, -test.ci[0] * n],
  };
}
