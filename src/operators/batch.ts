// The micro-batch as it moves through the stateful stages; each stage adds what it computed.
import type { Accepted, Rejected, Routed } from '../events/routed.js';
import type { RiskEventRecord } from '../events/wire-types.js';
import type { ModelManifest } from '../scoring/manifest.js';
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
  /** The model that produced these scores (a hot swap between batches cannot mix models within one). */
  readonly model: { readonly manifest: ModelManifest; readonly scorer: 'model' | 'fallback' };
}

export interface DecidedBatch extends ScoredBatch {
  readonly riskEvents: readonly RiskEventRecord[];
  /** New "last emitted score" per customer, written to the store once the risk events are acknowledged. */
  readonly lastScores: readonly { customerId: string; lastScore: LastScore }[];
}
