// Optional per-stage timing hooks for measuring where an event's latency goes (bench/kafka-e2e):
// the topology reports each record as it reaches the micro-batcher and each batch as it leaves a
// stage. Without a trace the operators are identity, so the engine pays nothing for them.
import { identity, tap, type MonoTypeOperatorFunction } from 'rxjs';
import type { Routed } from '../events/routed.js';

/**
 * Where a record is: received = decoded and validated, handed to the micro-batcher (the same tick the
 * consumer delivered its fetch); batched = its micro-batch closed; loaded = state loaded and features
 * computed; scored; decided (emit rule, reasons); persisted = new state and decisions written;
 * produced = its outputs acknowledged by the broker; committed = its offset committed.
 */
export type TraceStage = 'received' | 'batched' | 'loaded' | 'scored' | 'decided' | 'persisted' | 'produced' | 'committed';

/** Called synchronously as records reach a stage; the callee reads its own clock. */
export type StageTrace = (stage: TraceStage, items: readonly Routed[]) => void;

/** Reports one record at a time (before the micro-batcher). */
export function traceRecord(trace: StageTrace | undefined, stage: TraceStage): MonoTypeOperatorFunction<Routed> {
  return trace ? tap((item) => trace(stage, [item])) : identity;
}

/** Reports a whole batch (its items in arrival order). */
export function traceBatch<B extends { readonly items: readonly Routed[] }>(trace: StageTrace | undefined, stage: TraceStage): MonoTypeOperatorFunction<B> {
  return trace ? tap((batch) => trace(stage, batch.items)) : identity;
}

/** Reports a batch still in its micro-batch form (an array of records). */
export function traceItems(trace: StageTrace | undefined, stage: TraceStage): MonoTypeOperatorFunction<Routed[]> {
  return trace ? tap((items) => trace(stage, items)) : identity;
}
