// The micro-batch as it moves through the stateful stages; each stage adds what it computed.
import type { Accepted, Rejected, Routed } from '../events/routed.js';
import type { RiskEventRecord } from '../events/wire-types.js';
import type { ScoringRef } from '../scoring/scoring-ref.js';
import type { ApplyOutcome, LastScore } from '../state/customer-state.js';

/** One accepted event after its state change, with the customer's features just after it. */
export interface ScoringStep {
  readonly item: Accepted;
  readonly outcome: Exclude<ApplyOutcome, 'before_signup'>;
  /** Spec columns as of just after the event (NaN = missing). */
  readonly features: Float64Array;
  /**
   * Spec columns of the customer's state just before this event, as of that state's latest event
   * (null for a customer's first event ever). Scoring both sides tells whether this event moved the
   * risk; it depends only on exact state, so the decision is the same however the stream was batched
   * and after any crash or redelivery.
   */
  readonly before: Float64Array | null;
}

export interface AggregatedBatch {
  /** Every record of the batch, in arrival order: what gets acknowledged when the batch is done. */
  readonly items: readonly Routed[];
  readonly rejected: readonly Rejected[];
  readonly steps: readonly ScoringStep[];
}

export interface ScoredBatch extends AggregatedBatch {
  /** Churn probability per step, after the event. */
  readonly scores: Float32Array;
  /** Churn probability per step before the event (NaN when there was no state before). */
  readonly beforeScores: Float32Array;
  /**
   * Who produced these scores: the production model, or the fallback rules when it could not (a hot
   * swap happens between batches, so one batch never mixes production versions).
   */
  readonly model: ScoringRef;
  /** Canary: steps whose customers the candidate model scored instead (canary.steps[i] === 1). */
  readonly canary?: { readonly ref: ScoringRef; readonly steps: Uint8Array };
  /** Shadow: the candidate's scores of every step, for its own output and agreement metrics only. */
  readonly shadow?: { readonly ref: ScoringRef; readonly scores: Float32Array; readonly beforeScores: Float32Array };
}

/** Who scored step i of a batch: the candidate for a canary customer, else the batch's scorer. */
export function scoredBy(batch: ScoredBatch, i: number): ScoringRef {
  return batch.canary?.steps[i] === 1 ? batch.canary.ref : batch.model;
}

export interface DecidedBatch extends ScoredBatch {
  readonly riskEvents: readonly RiskEventRecord[];
  /** The risk events the shadow model would have emitted (shadow output only). */
  readonly shadowEvents?: readonly RiskEventRecord[];
  /** New "last emitted score" per customer, written to the store once the risk events are acknowledged. */
  readonly lastScores: readonly { customerId: string; lastScore: LastScore }[];
}
