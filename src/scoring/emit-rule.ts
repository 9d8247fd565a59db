// When a new score is worth a risk event. A campaign engine acts on events, so an event should mean
// something: the customer's first score, entering or leaving a band, or a large move after a quiet
// period. The rule reads only the customer's last published score (stored with the state) and the
// event's own time, never a wall clock, so a redelivery decides exactly what the first delivery did.
import type { LastScore } from '../state/customer-state.js';

/** A margin in log-odds (scale-free: the demo's bands sit near 0.02–0.03) or in score units. */
export type ScoreMargin = { readonly logOdds: number } | { readonly score: number };

/** A large move against the last published score: in log-odds, or relative to that score. */
export type LargeMove = { readonly logOdds: number } | { readonly relative: number };

export interface EmitPolicy {
  /** 'change': the rule below; 'every': every score is published (backtests, parity runs). */
  readonly emit: 'change' | 'every';
  /**
   * How far below a band's lower edge a score must fall before the customer leaves that band.
   * Entering a higher band takes effect at its edge, so the first crossing into a band is always
   * published at the score that crosses it; only the way down is damped.
   */
  readonly hysteresis: ScoreMargin;
  /** A move this large within the same band is published, once the cooldown has passed; absent: never. */
  readonly largeMove?: LargeMove;
  /** Event time since the last published event before a large move may publish again (band changes ignore it). */
  readonly cooldownMs: number;
}

export type EmitReason = 'first' | 'band_change' | 'large_move' | 'every';

/**
 * Why a score was not published: same_band (no large move configured), within_hysteresis (below the
 * band's edge but within the margin), cooldown (a large move too soon after the last event),
 * small_move (same band, smaller than the large move).
 */
export type SuppressReason = 'same_band' | 'within_hysteresis' | 'cooldown' | 'small_move';
export const SUPPRESS_REASONS: readonly SuppressReason[] = ['same_band', 'within_hysteresis', 'cooldown', 'small_move'];

export type EmitDecision =
  | { readonly emit: true; readonly reason: EmitReason; readonly band: string }
  | { readonly emit: false; readonly reason: SuppressReason; readonly band: string };

export interface Band {
  readonly name: string;
  readonly min_score: number;
}

/** Scores are float32 probabilities; clamping keeps 0 and 1 finite in log-odds. */
const EPS = 1e-7;

export function logOdds(p: number): number {
  const q = Math.min(1 - EPS, Math.max(EPS, p));
  return Math.log(q / (1 - q));
}

function bandIndex(score: number, bands: readonly Band[]): number {
  let i = 0;
  for (let j = 0; j < bands.length; j++) if (score >= bands[j]!.min_score) i = j;
  return i;
}

function heldIndex(held: string, bands: readonly Band[]): number {
  for (let j = 0; j < bands.length; j++) if (bands[j]!.name === held) return j;
  return -1;
}

/** The score a margin above `score` (the score raised by the hysteresis margin). */
function raised(score: number, margin: ScoreMargin): number {
  if ('score' in margin) return score + margin.score;
  const z = logOdds(score) + margin.logOdds;
  return 1 / (1 + Math.exp(-z));
}

/**
 * The band the customer is in after `score`, given the band it was in: up at once, down only when the
 * score is below the lower band's edge by more than the margin — and then only as far down as that allows.
 */
export function bandWithHysteresis(score: number, held: string | null, bands: readonly Band[], margin: ScoreMargin): string {
  const raw = bandIndex(score, bands);
  const h = held === null ? -1 : heldIndex(held, bands);
  // An unknown held band (a model with other bands) starts afresh.
  if (h < 0 || raw >= h) return bands[raw]!.name;
  return bands[Math.min(h, bandIndex(raised(score, margin), bands))]!.name;
}

function isLargeMove(move: LargeMove, previous: number, score: number): boolean {
  if ('logOdds' in move) return Math.abs(logOdds(score) - logOdds(previous)) >= move.logOdds;
  return previous > 0 ? Math.abs(score - previous) / previous >= move.relative : score > 0;
}

/**
 * Decides one score. `previous` is the customer's last published score (null: never published), as the
 * model that scores now banded it; `eventTime` is the triggering event's time.
 */
export function decideEmit(policy: EmitPolicy, previous: LastScore | null, score: number, eventTime: number, bands: readonly Band[]): EmitDecision {
  if (policy.emit === 'every') return { emit: true, reason: 'every', band: bands[bandIndex(score, bands)]!.name };
  const band = bandWithHysteresis(score, previous?.band ?? null, bands, policy.hysteresis);
  if (previous === null) return { emit: true, reason: 'first', band };
  if (band !== previous.band) return { emit: true, reason: 'band_change', band };
  if (policy.largeMove && isLargeMove(policy.largeMove, previous.score, score)) {
    // Out-of-order events (within the allowed lateness) can be older than the last one published: not past the cooldown.
    return eventTime - previous.eventTime >= policy.cooldownMs ? { emit: true, reason: 'large_move', band } : { emit: false, reason: 'cooldown', band };
  }
  if (bands[bandIndex(score, bands)]!.name !== band) return { emit: false, reason: 'within_hysteresis', band };
  return { emit: false, reason: policy.largeMove ? 'small_move' : 'same_band', band };
}
