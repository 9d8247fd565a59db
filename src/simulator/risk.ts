// The latent churn-risk process: a customer's daily probability of deciding to leave (which starts
// a decline ending in a CANCEL), and the decay of the scores that events feed into it.
// BASE_LOG_HAZARD is calibrated so that about 5% of active customers cancel per 30 days.

import { DAY_MS } from '../events/activity-event.js';
import { planHazard } from './catalogue.js';
import type { Customer } from './customer.js';

const BASE_LOG_HAZARD = Math.log(0.00125);
/** Daily retention of the event-driven scores (half-life ≈ 23 days): old trouble fades. */
const SCORE_DECAY = 0.97;
/** Share of decisions acted on within a week, with little behavioural warning. */
export const ABRUPT_SHARE = 0.15;

function tenureHazard(tenureDays: number): number {
  if (tenureDays < 60) return 0.9;
  if (tenureDays < 180) return 0.35;
  if (tenureDays < 365) return 0.1;
  if (tenureDays > 730) return -0.25;
  return 0;
}

/** Probability that a currently settled customer decides to leave during the day starting at `windowStart`. */
export function dailyChurnHazard(c: Customer, windowStart: number): number {
  const logHazard =
    BASE_LOG_HAZARD +
    c.frailty +
    planHazard(c.plan) +
    tenureHazard((windowStart - c.signupTime) / DAY_MS) +
    0.5 * Math.min(c.failScore, 3) +
    0.45 * Math.min(c.complaintScore, 3) +
    0.35 * Math.min(c.lowSatScore, 3) +
    0.6 * Math.min(c.downgradeScore, 2);
  return Math.exp(logHazard);
}

export function decayRiskScores(c: Customer): void {
  c.failScore *= SCORE_DECAY;
  c.complaintScore *= SCORE_DECAY;
  c.lowSatScore *= SCORE_DECAY;
  c.downgradeScore *= SCORE_DECAY;
}
