// Simulator options: defaults, validation (coded errors naming the option and its allowed range)
// and the derived end of the simulated period.

import { ChurnflowError } from '../errors.js';
import { DAY_MS } from '../events/activity-event.js';

export interface DriftOptions {
  /** First simulated day (0-based) on which the drift applies. */
  fromDay: number;
  /** Multiplies login rates (< 1: fewer logins). Default 1. */
  loginFactor?: number;
  /** Multiplies sessions per login (< 1: fewer sessions). Default 1. */
  sessionFactor?: number;
  /** A plan category that did not exist before fromDay. */
  newPlan?: string;
  /** Share of new signups and plan changes that pick newPlan. Default 0.3 when newPlan is set, else 0. */
  newPlanShare?: number;
}

export interface SimulatorOptions {
  /** Distinct customers over the run: those existing at the start plus new signups. Default 2000. */
  customers: number;
  /** Simulated days. Default 120. */
  days: number;
  seed: number;
  /** Epoch ms of the first simulated instant. Default 2025-01-01T00:00Z. */
  startTime: number;
  drift?: DriftOptions;
  /** About `rate` extra defective records per valid event. */
  badRecords?: { rate: number };
  /** Share of valid events that arrive 1..maxDelayMs after their event time. */
  lateEvents?: { rate: number; maxDelayMs: number };
}

export const DEFAULT_SIMULATOR_OPTIONS: Readonly<SimulatorOptions> = Object.freeze({
  customers: 2000,
  days: 120,
  seed: 7,
  startTime: Date.UTC(2025, 0, 1),
});

const MAX_CUSTOMERS = 1_000_000;
const MAX_DAYS = 3650;
const MIN_START = Date.UTC(2000, 0, 1);
const MAX_START = Date.UTC(2100, 0, 1);
const MAX_FACTOR = 10;
const MAX_LATE_DELAY_MS = 30 * DAY_MS;
const DEFAULT_NEW_PLAN_SHARE = 0.3;

const TOP_LEVEL_KEYS = new Set(['customers', 'days', 'seed', 'startTime', 'drift', 'badRecords', 'lateEvents']);

function invalid(option: string, allowed: string, got: unknown): never {
  throw new ChurnflowError(
    'CF_CONFIG_INVALID',
    `simulator option "${option}" must be ${allowed}, got ${describe(got)}`,
    { details: { option, allowed } },
  );
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  return typeof v;
}

function integerIn(option: string, v: unknown, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) invalid(option, `an integer in [${lo}, ${hi}]`, v);
  return v;
}

function numberIn(option: string, v: unknown, lo: number, hi: number, loExclusive = false): number {
  const ok = typeof v === 'number' && Number.isFinite(v) && (loExclusive ? v > lo : v >= lo) && v <= hi;
  if (!ok) invalid(option, `a number in ${loExclusive ? '(' : '['}${lo}, ${hi}]`, v);
  return v as number;
}

function objectOf(option: string, v: unknown, keys: readonly string[]): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) invalid(option, `an object with ${keys.join(', ')}`, v);
  const rec = v as Record<string, unknown>;
  for (const k of Object.keys(rec)) {
    if (!keys.includes(k)) invalid(`${option}.${k}`, `absent (known: ${keys.join(', ')})`, rec[k]);
  }
  return rec;
}

/** Applies defaults and validates; throws ChurnflowError('CF_CONFIG_INVALID') naming the offending option. */
export function resolveSimulatorOptions(partial: Partial<SimulatorOptions> = {}): SimulatorOptions {
  if (typeof partial !== 'object' || partial === null) invalid('options', 'an object', partial);
  const given = partial as Record<string, unknown>;
  for (const k of Object.keys(given)) {
    if (!TOP_LEVEL_KEYS.has(k) && given[k] !== undefined) {
      invalid(k, `absent (known: ${[...TOP_LEVEL_KEYS].join(', ')})`, given[k]);
    }
  }
  const customers = integerIn('customers', partial.customers ?? DEFAULT_SIMULATOR_OPTIONS.customers, 1, MAX_CUSTOMERS);
  const days = integerIn('days', partial.days ?? DEFAULT_SIMULATOR_OPTIONS.days, 1, MAX_DAYS);
  const seed = integerIn('seed', partial.seed ?? DEFAULT_SIMULATOR_OPTIONS.seed, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  const startTime = integerIn('startTime', partial.startTime ?? DEFAULT_SIMULATOR_OPTIONS.startTime, MIN_START, MAX_START);
  const out: SimulatorOptions = { customers, days, seed, startTime };

  if (partial.drift !== undefined) {
    const d = objectOf('drift', partial.drift, ['fromDay', 'loginFactor', 'sessionFactor', 'newPlan', 'newPlanShare']);
    const drift: DriftOptions = {
      fromDay: integerIn('drift.fromDay', d['fromDay'], 0, days),
      loginFactor: numberIn('drift.loginFactor', d['loginFactor'] ?? 1, 0, MAX_FACTOR, true),
      sessionFactor: numberIn('drift.sessionFactor', d['sessionFactor'] ?? 1, 0, MAX_FACTOR, true),
    };
    if (d['newPlan'] !== undefined) {
      const p = d['newPlan'];
      if (typeof p !== 'string' || !/^[a-z0-9][a-z0-9_-]{0,63}$/.test(p)) {
        invalid('drift.newPlan', 'a plan name of 1..64 characters [a-z0-9_-]', p);
      }
      drift.newPlan = p;
    }
    drift.newPlanShare = numberIn(
      'drift.newPlanShare',
      d['newPlanShare'] ?? (drift.newPlan === undefined ? 0 : DEFAULT_NEW_PLAN_SHARE),
      0,
      1,
    );
    if (drift.newPlanShare > 0 && drift.newPlan === undefined) {
      invalid('drift.newPlanShare', '0 unless drift.newPlan is set', drift.newPlanShare);
    }
    out.drift = drift;
  }
  if (partial.badRecords !== undefined) {
    const b = objectOf('badRecords', partial.badRecords, ['rate']);
    out.badRecords = { rate: numberIn('badRecords.rate', b['rate'], 0, 1) };
  }
  if (partial.lateEvents !== undefined) {
    const l = objectOf('lateEvents', partial.lateEvents, ['rate', 'maxDelayMs']);
    out.lateEvents = {
      rate: numberIn('lateEvents.rate', l['rate'], 0, 1),
      maxDelayMs: integerIn('lateEvents.maxDelayMs', l['maxDelayMs'], 1, MAX_LATE_DELAY_MS),
    };
  }
  return out;
}

/** Exclusive end of the simulated period: every valid event_time is in [startTime, end). */
export function simulationEndTime(o: SimulatorOptions): number {
  return o.startTime + o.days * DAY_MS;
}
