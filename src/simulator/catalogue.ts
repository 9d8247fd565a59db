// Static tables of the simulated subscription business: plans, payment methods, regions, devices,
// ticket categories, reasons, the content catalogue and daily activity curves.

import { cumulative } from './prng.js';

export const HOUR_MS = 3_600_000;
export const MINUTE_MS = 60_000;

/** Base plans; a drifted plan (options.drift.newPlan) sits between basic and standard. */
export const BASE_PLANS = ['basic', 'standard', 'premium'] as const;
export const BASE_PLAN_CUM = cumulative([0.42, 0.38, 0.2]);
const PLAN_PRICE_CENTS: Readonly<Record<string, number>> = { basic: 799, standard: 1399, premium: 1999 };
const PLAN_RANK: Readonly<Record<string, number>> = { basic: 0, standard: 1, premium: 2 };
/** Log-hazard offsets: cheap plans churn more. */
const PLAN_HAZARD: Readonly<Record<string, number>> = { basic: 0.45, standard: 0, premium: -0.45 };
const UNKNOWN_PLAN_PRICE_CENTS = 999;
const UNKNOWN_PLAN_RANK = 0.5;
const UNKNOWN_PLAN_HAZARD = 0.15;

export function planPriceCents(plan: string): number {
  return PLAN_PRICE_CENTS[plan] ?? UNKNOWN_PLAN_PRICE_CENTS;
}
export function planRank(plan: string): number {
  return PLAN_RANK[plan] ?? UNKNOWN_PLAN_RANK;
}
export function planHazard(plan: string): number {
  return PLAN_HAZARD[plan] ?? UNKNOWN_PLAN_HAZARD;
}

export interface PaymentMethodInfo {
  readonly name: string;
  /** Probability that a first charge attempt fails. */
  readonly failProb: number;
  readonly hazard: number;
}
export const PAYMENT_METHODS: readonly PaymentMethodInfo[] = [
  { name: 'card', failProb: 0.03, hazard: -0.15 },
  { name: 'paypal', failProb: 0.035, hazard: 0 },
  { name: 'bank_transfer', failProb: 0.08, hazard: 0.25 },
  { name: 'gift_card', failProb: 0.14, hazard: 0.55 },
];
export const PAYMENT_METHOD_CUM = cumulative([0.55, 0.25, 0.12, 0.08]);

export interface RegionInfo {
  readonly name: string;
  /** Local time = UTC + offset; shapes the hour at which a customer is active. */
  readonly tzOffsetMs: number;
  readonly currency: string;
  readonly hazard: number;
}
export const REGIONS: readonly RegionInfo[] = [
  { name: 'na', tzOffsetMs: -6 * HOUR_MS, currency: 'USD', hazard: 0 },
  { name: 'eu', tzOffsetMs: 1 * HOUR_MS, currency: 'EUR', hazard: -0.1 },
  { name: 'apac', tzOffsetMs: 8 * HOUR_MS, currency: 'USD', hazard: 0.05 },
  { name: 'latam', tzOffsetMs: -4 * HOUR_MS, currency: 'USD', hazard: 0.15 },
];
export const REGION_CUM = cumulative([0.4, 0.3, 0.2, 0.1]);

export const DEVICES = ['web', 'ios', 'android', 'tv', 'other'] as const;
export const DEVICE_CUM = cumulative([0.3, 0.25, 0.25, 0.15, 0.05]);

export const TICKET_CATEGORIES = ['billing', 'technical', 'content', 'account', 'other'] as const;
export const TICKET_CATEGORY_CUM = cumulative([0.22, 0.35, 0.2, 0.15, 0.08]);
/** Satisfaction 1..5 for a content customer and for one on the way out. */
export const SATISFACTION_CUM_CONTENT = cumulative([0.05, 0.08, 0.2, 0.35, 0.32]);
export const SATISFACTION_CUM_UNHAPPY = cumulative([0.3, 0.3, 0.22, 0.12, 0.06]);

export const CANCEL_REASONS = ['too_expensive', 'not_using', 'missing_content', 'switched_service', 'poor_support', 'other'] as const;
export const INVOLUNTARY_CANCEL_REASON = 'payment_failed';
export const UPGRADE_REASONS = ['more_screens', 'better_quality', 'promotion'] as const;
export const DOWNGRADE_REASONS = ['too_expensive', 'not_using', 'budget'] as const;

export const CONTENT_CATALOGUE_SIZE = 400;
export const CONTENT_IDS: readonly string[] = Array.from({ length: CONTENT_CATALOGUE_SIZE }, (_, i) => `m-${i}`);

/**
 * Local hour-of-day activity weights: a lunch bump and an evening peak on weekdays, flatter daytime
 * at weekends.
 */
export const HOUR_CUM_WEEKDAY = cumulative([
  0.3, 0.15, 0.08, 0.05, 0.05, 0.15, 0.45, 0.8, 0.8, 0.6, 0.55, 0.7,
  0.95, 0.8, 0.6, 0.6, 0.75, 1.1, 1.6, 2.3, 2.7, 2.5, 1.8, 0.9,
]);
export const HOUR_CUM_WEEKEND = cumulative([
  0.5, 0.3, 0.15, 0.08, 0.05, 0.08, 0.2, 0.4, 0.8, 1.2, 1.4, 1.5,
  1.5, 1.5, 1.5, 1.5, 1.6, 1.7, 1.9, 2.3, 2.5, 2.3, 1.7, 1.0,
]);
/** Activity multiplier by UTC day of week (0 = Sunday). */
export const DAY_OF_WEEK_FACTOR: readonly number[] = [1.25, 0.88, 0.86, 0.88, 0.92, 1.05, 1.3];
