// The customer base over time: who exists at the start (some already on their way out), when new
// customers sign up, and which customers are simulated on a given day. Holds customer state only,
// never events, so memory grows with customers and not with days.

import { DAY_MS } from '../events/activity-event.js';
import { dayOfWeekUtc } from './calendar.js';
import { DAY_OF_WEEK_FACTOR } from './catalogue.js';
import { Customer, MEAN_DECLINE_DAYS, createExistingCustomer } from './customer.js';
import { QUIET_DAYS, simulateCustomerDay, simulateQuietDay, type DayContext, type EventSink } from './customer-day.js';
import { profileEvent } from './event-builders.js';
import type { SimulatorOptions } from './options.js';
import { Prng, STREAM } from './prng.js';
import { ABRUPT_SHARE, dailyChurnHazard } from './risk.js';

/** New signups per day relative to the initial base: roughly replaces the customers who cancel. */
const SIGNUP_RATE_PER_DAY = 0.0017;
const EXPECTED_DECLINE_DAYS = ABRUPT_SHARE * 4 + (1 - ABRUPT_SHARE) * MEAN_DECLINE_DAYS;
/**
 * The customers alive at the start are survivors, less frail than their hazard alone suggests, so
 * fewer of them are mid-decline; calibrated so the first month's cancellation rate matches the next.
 */
const SURVIVOR_FACTOR = 0.75;

export class Population {
  private readonly o: SimulatorOptions;
  private active: Customer[] = [];
  private quiet: Customer[] = [];
  private readonly initialCount: number;
  private readonly signupCount: number;
  private readonly signupSlotMs: number;
  private readonly signupRng: Prng;
  private nextSignup = 0;
  private nextSignupTime = Infinity;

  constructor(o: SimulatorOptions) {
    this.o = o;
    this.initialCount = Math.max(1, Math.round(o.customers / (1 + SIGNUP_RATE_PER_DAY * o.days)));
    this.signupCount = o.customers - this.initialCount;
    // Stratified signup times (one per equal slot) spread signups evenly but not regularly.
    this.signupSlotMs = (o.days * DAY_MS) / Math.max(1, this.signupCount);
    this.signupRng = new Prng(o.seed, STREAM.population, 0);
    for (let i = 0; i < this.initialCount; i++) this.active.push(this.existing(i));
    this.scheduleNextSignup();
  }

  /** Customers alive at the start; in-flight declines keep the cancellation rate flat from day 0. */
  private existing(index: number): Customer {
    const c = createExistingCustomer(this.o.seed, index, this.o.startTime);
    const h = dailyChurnHazard(c, this.o.startTime);
    if (c.rng.chance(Math.min(0.5, SURVIVOR_FACTOR * h * EXPECTED_DECLINE_DAYS))) {
      c.startDecline(0, c.rng.chance(ABRUPT_SHARE));
      const elapsed = c.rng.int(c.declineLength);
      c.declineStart -= elapsed;
      if (c.recoverDay >= 0) c.recoverDay = c.recoverDay - elapsed > 0 ? c.recoverDay - elapsed : -1;
    }
    return c;
  }

  private scheduleNextSignup(): void {
    this.nextSignupTime = this.nextSignup < this.signupCount
      ? this.o.startTime + Math.floor((this.nextSignup + this.signupRng.next()) * this.signupSlotMs)
      : Infinity;
  }

  dayContext(day: number): DayContext {
    const windowStart = this.o.startTime + day * DAY_MS;
    const dow = dayOfWeekUtc(windowStart + DAY_MS / 2);
    const drift = this.o.drift;
    const drifted = drift !== undefined && day >= drift.fromDay;
    return {
      day,
      windowStart,
      windowEnd: windowStart + DAY_MS,
      weekend: dow === 0 || dow === 6,
      dayOfWeekFactor: DAY_OF_WEEK_FACTOR[dow] ?? 1,
      loginFactor: drifted ? (drift.loginFactor ?? 1) : 1,
      sessionFactor: drifted ? (drift.sessionFactor ?? 1) : 1,
      newPlan: drifted && drift.newPlan !== undefined ? drift.newPlan : null,
      newPlanShare: drifted ? (drift.newPlanShare ?? 0) : 0,
    };
  }

  /** Emits every event of `day` into `sink`. */
  runDay(day: number, sink: EventSink): void {
    const ctx = this.dayContext(day);
    if (day === 0) {
      // Existing customers announce themselves at the start, so the engine knows tenure, plan and renewal.
      for (const c of this.active) sink.emit(c, profileEvent(c, this.o.startTime, c.profile()));
    }
    while (this.nextSignupTime < ctx.windowEnd) {
      this.active.push(new Customer(this.o.seed, this.initialCount + this.nextSignup, this.nextSignupTime, this.o.startTime));
      this.nextSignup++;
      this.scheduleNextSignup();
    }
    for (const c of this.active) simulateCustomerDay(c, ctx, sink);
    for (const c of this.quiet) simulateQuietDay(c, ctx, sink);

    // Move today's cancellations to the quiet list; forget the quiet ones after QUIET_DAYS.
    let kept = 0;
    for (const c of this.active) {
      if (c.status === 'active') this.active[kept++] = c;
      else this.quiet.push(c);
    }
    this.active.length = kept;
    this.quiet = this.quiet.filter((c) => day - c.cancelledDay < QUIET_DAYS);
  }
}
