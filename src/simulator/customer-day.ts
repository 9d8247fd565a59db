// One simulated day of one customer: signup, billing and retries, the churn decision, logins and
// sessions, support tickets, plan changes and the cancellation itself.
// Every event of a day has event_time ≥ the day's window start (later events may spill past its end);
// the driver relies on that to release records in order.

import type { ActivityEventJson, PaymentPayload } from '../events/wire-types.js';
import { DAY_MS } from '../events/activity-event.js';
import { localTimeInWindow } from './calendar.js';
import {
  CANCEL_REASONS,
  CONTENT_CATALOGUE_SIZE,
  CONTENT_IDS,
  DEVICE_CUM,
  DEVICES,
  DOWNGRADE_REASONS,
  HOUR_CUM_WEEKDAY,
  HOUR_CUM_WEEKEND,
  HOUR_MS,
  INVOLUNTARY_CANCEL_REASON,
  MINUTE_MS,
  SATISFACTION_CUM_CONTENT,
  SATISFACTION_CUM_UNHAPPY,
  TICKET_CATEGORIES,
  TICKET_CATEGORY_CUM,
  UPGRADE_REASONS,
  planPriceCents,
  planRank,
} from './catalogue.js';
import type { Customer } from './customer.js';
import {
  loginEvent,
  paymentEvent,
  planChangeEvent,
  profileEvent,
  sessionEvent,
  supportTicketEvent,
} from './event-builders.js';
import { pickWeighted, type Prng } from './prng.js';
import { ABRUPT_SHARE, dailyChurnHazard, decayRiskScores } from './risk.js';

export interface DayContext {
  /** 0-based day index since the start. */
  readonly day: number;
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly weekend: boolean;
  readonly dayOfWeekFactor: number;
  /** Drift multipliers in force today (1 without drift). */
  readonly loginFactor: number;
  readonly sessionFactor: number;
  /** The drifted plan and the share of signups/plan changes taking it, when in force today. */
  readonly newPlan: string | null;
  readonly newPlanShare: number;
}

export interface EventSink {
  emit(c: Customer, event: ActivityEventJson): void;
}

/** Retry delays after the renewal date for the 1st, 2nd and 3rd retry; after that the account is cancelled. */
const RETRY_OFFSETS_MS: readonly number[] = [1 * DAY_MS, 3 * DAY_MS, 7 * DAY_MS];
const PROMO_DISCOUNT = 0.3;
const LOGIN_FAILURE_PROB = 0.03;
const DIP_START_PROB = 0.003;
const BASE_TICKET_PROB = 0.006;
const UPGRADE_PROB = 0.0012;
const DOWNGRADE_PROB = 0.0008;
const MAX_SESSION_SECONDS = 6 * 3600;
/** Chance per day of a stray login in the first QUIET_DAYS after cancelling. */
const QUIET_LOGIN_PROB = 0.01;
export const QUIET_DAYS = 60;

/** Emits and remembers the customer's latest event time, so a cancellation can be placed after it. */
function emit(sink: EventSink, c: Customer, event: ActivityEventJson): void {
  if (event.event_time > c.lastEventTime) c.lastEventTime = event.event_time;
  sink.emit(c, event);
}

function sampleMsOfDay(rng: Prng, weekend: boolean): number {
  const hour = pickWeighted(rng, weekend ? HOUR_CUM_WEEKEND : HOUR_CUM_WEEKDAY);
  return hour * HOUR_MS + rng.int(HOUR_MS);
}

function activityTime(c: Customer, ctx: DayContext): number {
  return localTimeInWindow(ctx.windowStart, sampleMsOfDay(c.rng, ctx.weekend), c.region.tzOffsetMs);
}

/** Simulates `c` (status active, signed up before ctx.windowEnd) for one day. */
export function simulateCustomerDay(c: Customer, ctx: DayContext, sink: EventSink): void {
  const rng = c.rng;
  let from = ctx.windowStart;
  if (c.signupTime >= ctx.windowStart) {
    signUp(c, ctx, sink);
    from = c.signupTime + MINUTE_MS;
  }
  decayRiskScores(c);

  if (c.declining) {
    if (c.recoverDay >= 0 && ctx.day >= c.recoverDay) {
      c.declining = false; // changed their mind: a false alarm for the model
      c.recoverDay = -1;
    } else if (ctx.day >= c.cancelDay) {
      // After anything already emitted (a session may have run on past midnight).
      const t = Math.max(from, activityTime(c, ctx), c.lastEventTime + MINUTE_MS);
      cancel(c, ctx, t, voluntaryReason(c), sink);
      return;
    }
  }
  const progress = c.declining ? c.declineProgress(ctx.day) : 0;

  const involuntaryAt = billing(c, ctx, progress, sink);
  const until = involuntaryAt >= 0 ? involuntaryAt : ctx.windowEnd;

  if (!c.declining && involuntaryAt < 0) {
    if (rng.next() < dailyChurnHazard(c, ctx.windowStart)) {
      c.startDecline(ctx.day, rng.chance(ABRUPT_SHARE));
    } else if (ctx.day > c.dipUntilDay && rng.chance(DIP_START_PROB)) {
      c.dipUntilDay = ctx.day + 4 + rng.int(11);
      c.dipFactor = rng.range(0.1, 0.45);
    }
  }

  // A step down once the decision is made, then a fade towards the cancellation.
  const declineFactor = c.declining ? 1 - c.declineDepth * (0.25 + 0.75 * Math.pow(c.declineProgress(ctx.day), 0.6)) : 1;
  const engagement = declineFactor * (ctx.day <= c.dipUntilDay ? c.dipFactor : 1);
  activity(c, ctx, from, until, engagement, sink);
  supportTickets(c, ctx, progress, from, until, sink);
  planChanges(c, ctx, progress, from, until, sink);

  if (involuntaryAt >= 0) cancel(c, ctx, involuntaryAt, INVOLUNTARY_CANCEL_REASON, sink);
}

/** A stray login from a customer who has cancelled (they still have an account to look at). */
export function simulateQuietDay(c: Customer, ctx: DayContext, sink: EventSink): void {
  if (!c.rng.chance(QUIET_LOGIN_PROB)) return;
  const t = activityTime(c, ctx);
  emit(sink, c, loginEvent(c, t, { device: DEVICES[c.primaryDevice] ?? 'web', success: true }));
}

function signUp(c: Customer, ctx: DayContext, sink: EventSink): void {
  if (ctx.newPlan !== null && c.rng.chance(ctx.newPlanShare)) c.plan = ctx.newPlan;
  emit(sink, c, profileEvent(c, c.signupTime, c.profile()));
  // The first month is paid at signup; renewals follow monthly from renewal_time.
  emit(sink, c, paymentEvent(c, c.signupTime + 2000, chargePayload(c, 'SUCCEEDED', 0)));
}

function chargePayload(c: Customer, status: 'SUCCEEDED' | 'FAILED', paymentIndex: number): PaymentPayload {
  const price = planPriceCents(c.plan);
  const discount = paymentIndex < c.promoPayments ? Math.round(price * PROMO_DISCOUNT) : 0;
  return { status, amount_cents: price - discount, discount_cents: discount, currency: c.region.currency };
}

/**
 * Charges a due renewal or retry. Returns the time of an involuntary cancellation (all retries
 * failed), or -1.
 */
function billing(c: Customer, ctx: DayContext, progress: number, sink: EventSink): number {
  const retrying = c.failedAttempts > 0;
  const t = retrying ? c.nextRetryTime : c.renewalTime;
  if (t >= ctx.windowEnd) return -1;
  const rng = c.rng;
  const failProb = retrying
    ? Math.min(0.8, 0.25 + 2 * c.paymentMethod.failProb + 0.3 * progress)
    : Math.min(0.6, c.paymentMethod.failProb * (1 + 4 * progress));
  if (!rng.chance(failProb)) {
    emit(sink, c, paymentEvent(c, t, chargePayload(c, 'SUCCEEDED', c.renewalIndex)));
    c.advanceRenewal();
    emit(sink, c, profileEvent(c, t + 1000, c.profile()));
    return -1;
  }
  emit(sink, c, paymentEvent(c, t, chargePayload(c, 'FAILED', c.renewalIndex)));
  c.failScore += 1;
  c.failedAttempts += 1;
  const nextOffset = RETRY_OFFSETS_MS[c.failedAttempts - 1];
  const cancelAt = nextOffset === undefined ? Math.max(t + HOUR_MS, c.lastEventTime + MINUTE_MS) : -1;
  if (nextOffset !== undefined) c.nextRetryTime = c.renewalTime + nextOffset;
  if (rng.chance(0.3)) {
    const complaint = rng.chance(0.4);
    const ticketTime = t + HOUR_MS + rng.int(11 * HOUR_MS);
    if (cancelAt < 0 || ticketTime < cancelAt) ticket(c, ticketTime, 'billing', complaint, progress, sink);
  }
  return cancelAt;
}

function activity(c: Customer, ctx: DayContext, from: number, until: number, engagement: number, sink: EventSink): void {
  const rng = c.rng;
  const logins = rng.poisson(c.loginRate * ctx.dayOfWeekFactor * engagement * ctx.loginFactor);
  const sessionMean = c.sessionsPerLogin * ctx.sessionFactor * (0.4 + 0.6 * engagement);
  const durationScale = 0.35 + 0.65 * engagement;
  for (let i = 0; i < logins; i++) {
    const t = activityTime(c, ctx);
    const device = rng.chance(0.8) ? c.primaryDevice : pickWeighted(rng, DEVICE_CUM);
    const success = !rng.chance(LOGIN_FAILURE_PROB);
    const sessions = success ? rng.poisson(sessionMean) : 0;
    // Draws above happen even for skipped logins so the stream does not depend on the window bounds.
    if (t < from || t >= until) continue;
    emit(sink, c, loginEvent(c, t, { device: DEVICES[device] ?? 'web', success }));
    let s = t + 5000 + rng.int(120_000);
    for (let j = 0; j < sessions && s < until; j++) {
      const seconds = Math.round(Math.exp(c.durationMu + 0.6 * rng.normal()) * durationScale);
      const duration = seconds < 10 ? 10 : seconds > MAX_SESSION_SECONDS ? MAX_SESSION_SECONDS : seconds;
      const items = 1 + rng.poisson(duration / 1500);
      const u = rng.next();
      // Mostly the customer's own niche of the catalogue, sometimes whatever is popular (low ids).
      const contentIndex =
        u < 0.03 ? -1
          : u < 0.83 ? (c.contentOffset + rng.int(c.variety)) % CONTENT_CATALOGUE_SIZE
            : Math.floor(CONTENT_CATALOGUE_SIZE * Math.pow(rng.next(), 3));
      emit(sink, c, sessionEvent(c, s, {
        duration_seconds: duration,
        content_items: items,
        content_id: contentIndex < 0 ? null : (CONTENT_IDS[contentIndex] ?? null),
      }));
      s += duration * 1000 + 30_000 + rng.int(15 * MINUTE_MS);
    }
  }
}

function supportTickets(c: Customer, ctx: DayContext, progress: number, from: number, until: number, sink: EventSink): void {
  const rng = c.rng;
  if (!rng.chance(BASE_TICKET_PROB * c.ticketPropensity * (1 + 10 * progress))) return;
  const t = activityTime(c, ctx);
  const category = rng.chance(0.35 * progress)
    ? 'cancellation'
    : (TICKET_CATEGORIES[pickWeighted(rng, TICKET_CATEGORY_CUM)] ?? 'other');
  const complaint = rng.chance(0.15 + 0.6 * progress);
  if (t >= from && t < until) ticket(c, t, category, complaint, progress, sink);
}

function ticket(c: Customer, t: number, category: string, complaint: boolean, progress: number, sink: EventSink): void {
  const rng = c.rng;
  const unhappy = rng.chance(complaint ? 0.5 + 0.5 * progress : progress);
  const satisfaction = rng.chance(0.4)
    ? null
    : 1 + pickWeighted(rng, unhappy ? SATISFACTION_CUM_UNHAPPY : SATISFACTION_CUM_CONTENT);
  if (complaint) c.complaintScore += 1;
  if (satisfaction !== null && satisfaction <= 2) c.lowSatScore += 1;
  emit(sink, c, supportTicketEvent(c, t, { category, is_complaint: complaint, satisfaction }));
}

function planChanges(c: Customer, ctx: DayContext, progress: number, from: number, until: number, sink: EventSink): void {
  const rng = c.rng;
  const rank = planRank(c.plan);
  let to: string | null = null;
  if (rank < 2 && rng.chance(UPGRADE_PROB * (1 - 0.8 * progress))) to = rank < 1 ? 'standard' : 'premium';
  else if (rank > 0 && rng.chance(DOWNGRADE_PROB * (1 + 6 * progress))) to = rank > 1 ? 'standard' : 'basic';
  if (to === null) return;
  if (ctx.newPlan !== null && ctx.newPlan !== c.plan && rng.chance(ctx.newPlanShare)) to = ctx.newPlan;
  const t = activityTime(c, ctx);
  const toRank = planRank(to);
  if (t < from || t >= until || toRank === rank) return;
  const upgrade = toRank > rank;
  const reason = rng.chance(0.5) ? null : rng.pick(upgrade ? UPGRADE_REASONS : DOWNGRADE_REASONS);
  emit(sink, c, planChangeEvent(c, t, { change: upgrade ? 'UPGRADE' : 'DOWNGRADE', from_plan: c.plan, to_plan: to, reason }));
  c.plan = to;
  if (!upgrade) c.downgradeScore += 1;
  emit(sink, c, profileEvent(c, t + 1000, c.profile()));
}

function voluntaryReason(c: Customer): string {
  const rng = c.rng;
  if (c.downgradeScore > 0.3 && rng.chance(0.6)) return 'too_expensive';
  if (c.complaintScore > 0.5 && rng.chance(0.6)) return 'poor_support';
  return rng.pick(CANCEL_REASONS);
}

function cancel(c: Customer, ctx: DayContext, t: number, reason: string, sink: EventSink): void {
  emit(sink, c, planChangeEvent(c, t, { change: 'CANCEL', from_plan: c.plan, to_plan: null, reason }));
  c.status = 'cancelled';
  c.declining = false;
  c.cancelledDay = ctx.day;
}
