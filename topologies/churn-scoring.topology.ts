// The churn-scoring job, top to bottom: source → decode → validate → event time → micro-batch →
// stage state (load + transition) → features → score (ONNX) → decide → persist (state + decisions,
// one fenced write per customer) → sinks → acknowledge.
// The same topology runs on Kafka + Redis in production, on files for replay, and on the simulator
// for the embedded demo; only the edges passed in differ.
import { concatMap, concatWith, defer, finalize, identity, ignoreElements, of, pipe, tap, type Observable, type SchedulerLike } from 'rxjs';
import { ChurnflowError } from '../src/errors.js';
import type { CompiledSpec } from '../src/features/compile-spec.js';
import type { ValidationRules } from '../src/events/validate-event.js';
import type { EngineMetrics } from '../src/observability/metrics.js';
import { acknowledge } from '../src/operators/acknowledge.js';
import { applyToState } from '../src/operators/apply-to-state.js';
import { BatchActivity } from '../src/operators/batch-activity.js';
import type { DecidedBatch } from '../src/operators/batch.js';
import { decideRisk, type DecisionOptions, type ProcessingTimeMode } from '../src/operators/decide-risk.js';
import { decodeRecords } from '../src/operators/decode-records.js';
import { microBatch, type MicroBatchOptions } from '../src/operators/micro-batch.js';
import { createDriftStage, type DriftStage } from '../src/operators/monitor-drift.js';
import { observeBatch, timed } from '../src/operators/observe-batch.js';
import { persistDecisions } from '../src/operators/persist-decisions.js';
import { trimCommitted } from '../src/operators/trim-committed.js';
import { retryBatch, type RetryPolicy } from '../src/operators/retry-batch.js';
import { routeLateEvents } from '../src/operators/route-late-events.js';
import { scoreSteps, scoreWithLifecycle, type BatchScoring } from '../src/operators/score-steps.js';
import { traceBatch, traceItems, traceRecord, type StageTrace } from '../src/operators/trace-stages.js';
import { validateEvents } from '../src/operators/validate-events.js';
import { writeOutputs, type OutputSinks } from '../src/operators/write-outputs.js';
import type { EmitPolicy } from '../src/scoring/emit-rule.js';
import type { ScoringModel } from '../src/scoring/scoring-model.js';
import type { RecordDecoder } from '../src/serde/record-decoder.js';
import { CommittedOffsets } from '../src/sources/committed-offsets.js';
import { FlowControl } from '../src/sources/flow-control.js';
import type { RecordSource } from '../src/sources/record-source.js';
import { OutboxTrimmer } from '../src/state/outbox-trimmer.js';
import type { StateStore } from '../src/state/state-store.js';
import type { Clock } from '../src/time/clock.js';
import { WatermarkTracker } from '../src/time/watermark.js';

export interface ChurnScoringOptions {
  readonly allowedLatenessMs: number;
  readonly batch: MicroBatchOptions;
  /** Records a source may run ahead of acknowledgement (backpressure bound). */
  readonly maxInFlight: number;
  /** Which scores become risk events (the emit rule). */
  readonly risk: EmitPolicy;
  /** Where risk events' processing_time comes from (replays use 'received', derived from the input). */
  readonly processingTime?: ProcessingTimeMode;
  /** Retries of a batch that failed with a retriable error; then the job fails. */
  readonly retry?: RetryPolicy;
  /** Reasons (top-k) and experiment arms on risk events. */
  readonly decision?: Omit<DecisionOptions, 'processingTime'>;
}

export const DEFAULT_RETRY: RetryPolicy = Object.freeze({ maxAttempts: 8, initialDelayMs: 250, maxDelayMs: 10_000 });

export interface ChurnScoringEdges {
  readonly source: RecordSource;
  readonly decoder: RecordDecoder;
  readonly rules: ValidationRules;
  readonly store: StateStore;
  readonly spec: CompiledSpec;
  /** The production model, read per batch (a handle can switch models between batches). */
  readonly model: () => ScoringModel | undefined;
  /**
   * The model lifecycle (hot swap, shadow, canary, fallback rules): when given it scores, and `model`
   * only serves the drift monitor's samples. Without it `model()` scores every batch.
   */
  readonly scoring?: BatchScoring;
  readonly sinks: OutputSinks;
  /** Processing time (risk events' processing_time, latency metrics). */
  readonly clock: Clock;
  /** "Now" for future-timestamp checks; defaults to `clock` (replays of old or simulated data pass their own). */
  readonly validationClock?: Clock;
  readonly scheduler?: SchedulerLike;
  readonly metrics?: EngineMetrics;
  readonly watermarks?: WatermarkTracker;
  readonly onRetry?: (err: unknown, attempt: number) => void;
  /** Deleting committed outbox entries failed (tried again with the next batch; the engine goes on). */
  readonly onTrimError?: (err: unknown, customers: number) => void;
  /** Drift and performance monitoring (optional): the monitor, its sink and its midnight sample. */
  readonly drift?: Omit<DriftStage, 'store' | 'spec' | 'model' | 'allowedLatenessMs'>;
  /** Per-stage timing hooks (bench/kafka-e2e's latency breakdown); absent in production. */
  readonly trace?: StageTrace;
}

export function churnScoringTopology(edges: ChurnScoringEdges, options: ChurnScoringOptions): Observable<DecidedBatch> {
  const { source, store, spec, clock, metrics, trace } = edges;
  const flow = new FlowControl(options.maxInFlight);
  const committed = new CommittedOffsets();
  const trimmer = new OutboxTrimmer(store, edges.onTrimError ? { onError: edges.onTrimError } : {});
  const activity = new BatchActivity();
  const watermarks = edges.watermarks ?? new WatermarkTracker({ allowedLatenessMs: options.allowedLatenessMs });
  const drift = edges.drift ? createDriftStage({ ...edges.drift, store, spec, model: edges.model, allowedLatenessMs: options.allowedLatenessMs }) : undefined;
  return source.records(flow).pipe(
    tap(() => metrics?.recordsReceived.inc({ source: source.name })),
    decodeRecords(edges.decoder), //                  bytes / objects → ActivityEvent, or dead letter
    validateEvents(edges.rules, edges.validationClock ?? clock), // ranges, future times, signup order → dead letter
    routeLateEvents({ allowedLatenessMs: options.allowedLatenessMs }, watermarks), // behind the watermark → late
    pipe(traceRecord(trace, 'received'), microBatch(options.batch, edges.scheduler, activity.boundaries()), traceItems(trace, 'batched')), // size, timer, or a fetch's end while the stages are idle
    tap(() => activity.started()),
    // One batch at a time through the stateful stages: per-customer order and "last score" stay exact.
    concatMap((items) =>
      of(items).pipe(
        timed(metrics?.batchSeconds, (batch$) =>
          batch$.pipe(
            // Each stage followed by its trace point (identity unless a bench traces the path).
            pipe(timed(metrics?.stateApplySeconds, applyToState(store, spec)), traceBatch(trace, 'loaded')), // load + transition (nothing written yet); features per event; redeliveries → stored decisions
            pipe(timed(metrics?.scoringSeconds, edges.scoring ? scoreWithLifecycle(edges.scoring) : scoreSteps(requireModel(edges.model))), traceBatch(trace, 'scored')), // ONNX, one call per batch and model
            pipe(decideRisk(options.risk, clock, { ...options.decision, processingTime: options.processingTime ?? 'clock' }), traceBatch(trace, 'decided')), // emit rule (hysteresis, cooldown), band, id, reasons, arm
            pipe(persistDecisions(store, committed), traceBatch(trace, 'persisted')), // new states + outbox + last scores, fenced, before any output
            pipe(writeOutputs(edges.sinks), traceBatch(trace, 'produced')), // risk events (new and re-emitted), dead letters, late events
          ),
        ),
        // Redis or Kafka briefly away, or a fenced write: run the batch again from loading (stored decisions re-emit as stored).
        retryBatch(options.retry ?? DEFAULT_RETRY, (err, attempt) => edges.onRetry?.(err, attempt)),
        // Drift, delayed-label performance and retraining triggers over event-time windows (optional).
        drift ? concatMap(async (batch) => (await drift.process(batch), batch)) : identity,
        // The commit stays inside the stateful stages. Run beside the next batch (a concatMap of its own)
        // it measured worse, not better: commits took tens of ms and latency at 2,000 events/s grew
        // several-fold (docs/architecture.md "Latency").
        pipe(acknowledge(source, flow, committed), traceBatch(trace, 'committed')), // commit positions, return credits
        trimCommitted(trimmer, committed), // delete the outbox entries now committed (in the background, not awaited)
        observeBatch(metrics, clock),
        tap(() => {
          const wm = watermarks.overall();
          if (wm !== undefined) metrics?.watermarkLagSeconds.set(Math.max(0, clock.now() - wm) / 1000);
        }),
        finalize(() => activity.finished()),
      ),
    ),
    // Input exhausted or drained: the last deletes finish before the job completes (and the store closes).
    concatWith(defer(() => trimmer.settle()).pipe(ignoreElements())),
  );
}

function requireModel(model: () => ScoringModel | undefined): () => ScoringModel {
  return () => {
    const m = model();
    if (!m) throw new ChurnflowError('CF_MODEL_UNAVAILABLE', 'no model to score with (a topology without a model lifecycle needs one)', { retriable: false });
    return m;
  };
}
