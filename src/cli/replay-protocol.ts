// The messages between a parallel replay's coordinator (replay-parallel.ts) and its workers
// (replay-worker.ts). Every output carries `seq`, the input position (offset) of the record that
// produced it; `progress` says no later output of that worker will have a lower one.
import type { TallyCounts } from '../monitoring/run-tally.js';
import type { CurrentRiskRecord, DeadLetterRecord, RiskEventRecord } from '../events/wire-types.js';

export interface Sequenced<T> {
  readonly seq: number[];
  readonly values: T[];
}

/** One batch's outputs, as the topology wrote them to the worker's sinks. */
export interface BatchOutputs {
  readonly progress: number;
  readonly risk: Sequenced<RiskEventRecord>;
  readonly currentRisk: Sequenced<CurrentRiskRecord>;
  /** Dead letters and late events (one output in a replay: the envelope's route tells them apart). */
  readonly deadLetters: Sequenced<DeadLetterRecord>;
}

export type ToCoordinator =
  | ({ readonly type: 'batch'; readonly records: number; /** Share of its input the worker has read (file bytes), when known. */ readonly read?: number } & BatchOutputs)
  | { readonly type: 'done'; readonly tally: TallyCounts; readonly budgetCuts: number; readonly modelRef: string; readonly stopped: boolean }
  | { readonly type: 'failed'; readonly message: string; readonly code?: string };

export type FromCoordinator = { readonly type: 'stop' };
