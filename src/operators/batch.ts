// The micro-batch as it moves through the stateful stages; each stage adds what it computed.
import type { Accepted, Rejected, Routed } from '../events/routed.js';
import type { RiskEventRecord } from '../events/wire-types.js';
import type { SuppressReason } from '../scoring/emit-rule.js';
import type { ScoringRef } from '../scoring/scoring-ref.js';
import type { StoredDecision } from '../scoring/stored-decision.js';
import type { LastScore } from '../state/customer-state.js';
import type { StagedCustomer } from '../state/stage-deltas.js';

/** One accepted event after its state change, with the customer's features just after it. */
export interface ScoringStep {
  readonly item: Accepted;
  /** Position of the item in the batch (outputs keep arrival order). */
  readonly order: number;
  readonly outcome: 'applied';
  /** Spec columns as of just after the event (NaN = missing). */
  readonly features: Float64Array;
  /**
   * A decision stored for this event ahead of the state (the state read back trailed it: a restart after
   * HotCachedStore.writeDecisions): re-emitted as stored (it is among the replays), not decided again;
   * the emit memory moves as it did. Undefined for every other step.
   */
  readonly stored: StoredDecision | undefined;
}

/** A redelivered event whose decision was stored with its state change: re-emitted as stored. */
export interface ReplayedDecision {
  readonly item: Accepted;
  readonly order: number;
  readonly decision: StoredDecision;
}

/** A decision to store in a customer's outbox (key = the event's source position). */
export interface OutboxEntry {
  readonly customerId: string;
  readonly key: string;
  readonly payload: string;
}

export interface AggregatedBatch {
  /** Every record of the batch, in arrival order: what gets acknowledged when the batch is done. */
  readonly items: readonly Routed[];
  readonly rejected: readonly Rejected[];
  readonly steps: readonly ScoringStep[];
  /** Redelivered events with a stored decision, to re-emit byte for byte. */
  readonly replays: readonly ReplayedDecision[];
  /** The customers' new states, not yet written: persisted with the batch's decisions. */
  readonly staged: readonly StagedCustomer[];
  /** Outbox entries known before scoring (refusals as before signup). */
  readonly refusals: readonly OutboxEntry[];
  /** Redelivered positions (applied before) and content duplicates (an event_id applied at another position). */
  readonly duplicates: { readonly redelivered: number; readonly sameEventId: number };
}

export interface ScoredBatch extends AggregatedBatch {
  /** Churn probability per step, after the event. */
  readonly scores: Float32Array;
  /**
   * Who produced these scores: the production model, or the fallback rules when it could not (a hot
   * swap happens between batches, so one batch never mixes production versions).
   */
  readonly model: ScoringRef;
  /** Canary: steps whose customers the candidate model scored instead (canary.steps[i] === 1). */
  readonly canary?: { readonly ref: ScoringRef; readonly steps: Uint8Array };
  /** Shadow: the candidate's scores of every step, for its own output and agreement metrics only. */
  readonly shadow?: { readonly ref: ScoringRef; readonly scores: Float32Array };
}

/** Who scored step i of a batch: the candidate for a canary customer, else the batch's scorer. */
export function scoredBy(batch: ScoredBatch, i: number): ScoringRef {
  return batch.canary?.steps[i] === 1 ? batch.canary.ref : batch.model;
}

export interface DecidedBatch extends ScoredBatch {
  /** New risk events and re-emitted stored ones, in arrival order. */
  readonly riskEvents: readonly RiskEventRecord[];
  /** The risk events the shadow model would have emitted (shadow output only), new and re-emitted. */
  readonly shadowEvents?: readonly RiskEventRecord[];
  /** New "last published score" per customer (the emit rule's memory, the current-risk view), stored with the state. */
  readonly lastScores: readonly { customerId: string; lastScore: LastScore }[];
  /** The shadow model's own emit memory, when a shadow scored. */
  readonly shadowScores?: readonly { customerId: string; lastScore: LastScore }[];
  /** Scores not published, by the emit rule's reason. */
  readonly suppressed: Partial<Record<SuppressReason, number>>;
  /** This batch's new decisions (and refusals), stored in the outbox with the state change. */
  readonly outbox: readonly OutboxEntry[];
}
