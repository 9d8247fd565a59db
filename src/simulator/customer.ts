// One simulated customer: profile, engagement baseline, latent churn-risk state, billing state,
// and how customers come into being (existing at the start with some tenure, or signing up later).

import { DAY_MS } from '../events/activity-event.js';
import type { ProfilePayload } from '../events/wire-types.js';
import { addMonthsUtc, monthsUntilAfter } from './calendar.js';
import {
  BASE_PLAN_CUM,
  BASE_PLANS,
  DEVICE_CUM,
  PAYMENT_METHOD_CUM,
  PAYMENT_METHODS,
  REGION_CUM,
  REGIONS,
  CONTENT_CATALOGUE_SIZE,
  type PaymentMethodInfo,
  type RegionInfo,
} from './catalogue.js';
import type { EventOwner } from './event-builders.js';
import { Prng, STREAM, pickWeighted, pickWeightedItem } from './prng.js';

const MAX_INITIAL_TENURE_DAYS = 3 * 365;
/** Mean length of a gradual decline; used to seed customers already declining at the start. */
export const MEAN_DECLINE_DAYS = 42;

export type CustomerStatus = 'active' | 'cancelled';

export class Customer implements EventOwner {
  readonly id: string;
  seq = 0;
  readonly rng: Prng;
  status: CustomerStatus = 'active';

  // Profile.
  readonly signupTime: number;
  plan: string;
  readonly paymentMethod: PaymentMethodInfo;
  readonly region: RegionInfo;
  readonly age: number | null;
  /** Months after signup of the next renewal; renewalTime = signupTime + renewalIndex months. */
  renewalIndex: number;
  renewalTime: number;
  /** Payments before this index get the promotional discount. */
  readonly promoPayments: number;

  // Engagement baseline.
  readonly loginRate: number;
  readonly sessionsPerLogin: number;
  /** log(seconds) of the median session. */
  readonly durationMu: number;
  /** Number of catalogue items the customer habitually picks from (distinct-content counts vary). */
  readonly variety: number;
  readonly contentOffset: number;
  readonly primaryDevice: number;
  /** Scales support-ticket frequency; some people simply write in more. */
  readonly ticketPropensity: number;

  // Latent churn risk: a static log-hazard part plus decaying scores fed by what happens.
  readonly frailty: number;
  failScore = 0;
  complaintScore = 0;
  lowSatScore = 0;
  downgradeScore = 0;

  // Decline before a cancellation (day indices relative to the simulation start).
  declining = false;
  declineStart = 0;
  declineLength = 0;
  declineDepth = 0;
  /** Day on which a declining customer changes their mind, or -1 when they go through with it. */
  recoverDay = -1;
  /** Temporary dips (holidays, busy weeks) that look like decline but end; noise for the model. */
  dipUntilDay = -1;
  dipFactor = 1;

  // Billing: failed attempts for the current renewal (0 = none pending) and when to retry.
  failedAttempts = 0;
  nextRetryTime = 0;

  /** Latest event_time emitted so far (events of one day can run past midnight). */
  lastEventTime = -Infinity;
  /** Day index of the cancellation, for quiet-period bookkeeping. */
  cancelledDay = -1;

  constructor(seed: number, index: number, signupTime: number, startTime: number) {
    const rng = new Prng(seed, STREAM.customer, index);
    this.rng = rng;
    this.id = `c${String(index).padStart(6, '0')}`;
    this.signupTime = signupTime;
    this.plan = pickWeightedItem(rng, BASE_PLANS, BASE_PLAN_CUM);
    this.paymentMethod = pickWeightedItem(rng, PAYMENT_METHODS, PAYMENT_METHOD_CUM);
    this.region = pickWeightedItem(rng, REGIONS, REGION_CUM);
    this.age = rng.chance(0.12) ? null : Math.round(Math.min(85, Math.max(18, 38 + 13 * rng.normal())));
    this.renewalIndex = signupTime >= startTime ? 1 : monthsUntilAfter(signupTime, startTime);
    this.renewalTime = addMonthsUtc(signupTime, this.renewalIndex);
    this.promoPayments = rng.chance(0.15) ? 3 : 0;

    // Lognormal baselines: most customers are light users, a few are heavy.
    this.loginRate = Math.min(6, 0.65 * Math.exp(0.7 * rng.normal()));
    this.sessionsPerLogin = 0.6 + 0.9 * rng.next();
    this.durationMu = Math.log(1500) + 0.45 * rng.normal();
    this.variety = Math.max(2, Math.min(120, Math.round(12 * Math.exp(0.8 * rng.normal()))));
    this.contentOffset = rng.int(CONTENT_CATALOGUE_SIZE);
    this.primaryDevice = pickWeighted(rng, DEVICE_CUM);
    this.ticketPropensity = Math.exp(0.5 * rng.normal());

    const ageHazard = this.age === null ? 0 : this.age < 25 ? 0.25 : this.age > 60 ? -0.15 : 0;
    this.frailty =
      this.paymentMethod.hazard +
      this.region.hazard +
      ageHazard -
      0.35 * Math.log(this.loginRate / 0.65) + // light users leave more easily
      0.35 * rng.normal(); // unobserved heterogeneity keeps the problem from being trivial
  }

  profile(): ProfilePayload {
    return {
      signup_time: this.signupTime,
      plan: this.plan,
      payment_method: this.paymentMethod.name,
      region: this.region.name,
      age: this.age,
      renewal_time: this.renewalTime,
    };
  }

  /** Moves the renewal one month on after a successful renewal payment. */
  advanceRenewal(): void {
    this.renewalIndex++;
    this.renewalTime = addMonthsUtc(this.signupTime, this.renewalIndex);
    this.failedAttempts = 0;
  }

  /** Enters the pre-cancellation phase on `day`; `abrupt` ones cancel within a week with little warning. */
  startDecline(day: number, abrupt: boolean): void {
    const rng = this.rng;
    this.declining = true;
    this.declineStart = day;
    if (abrupt) {
      this.declineLength = 1 + rng.int(7);
      this.declineDepth = 0.1 + 0.2 * rng.next();
    } else {
      this.declineLength = 21 + rng.int(2 * (MEAN_DECLINE_DAYS - 21) + 1);
      this.declineDepth = 0.7 + 0.28 * rng.next();
    }
    this.recoverDay = !abrupt && rng.chance(0.1) ? day + Math.round(this.declineLength * rng.range(0.4, 0.8)) : -1;
    this.dipUntilDay = -1;
  }

  /** 0 at the start of a decline, 1 on the cancellation day. */
  declineProgress(day: number): number {
    const p = (day - this.declineStart) / this.declineLength;
    return p < 0 ? 0 : p > 1 ? 1 : p;
  }

  get cancelDay(): number {
    return this.declineStart + this.declineLength;
  }
}

/** A customer who already exists at the start, with up to ~3 years of tenure (skewed towards recent). */
export function createExistingCustomer(seed: number, index: number, startTime: number): Customer {
  // The tenure draw uses its own stream so it does not shift the customer's other draws.
  const tenureRng = new Prng(seed, STREAM.population, index + 1);
  const tenureDays = 1 + Math.pow(tenureRng.next(), 1.6) * MAX_INITIAL_TENURE_DAYS;
  const signupTime = startTime - Math.round(tenureDays * DAY_MS);
  return new Customer(seed, index, signupTime, startTime);
}
