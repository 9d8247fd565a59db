// The churn-scoring job, top to bottom: source → decode → validate → event time → micro-batch →
// stage state (load + transition) → features → score (ONNX) → decide → persist (state + decisions,
// one fenced write per customer) → sinks → acknowledge (commit now or at the commit interval, after
// the states a write-behind store still holds are written).
// The same topology runs on Kafka + Redis in production, on files for replay, and on the simulator
// for the embedded demo; only the edges passed in differ.
import { asyncScheduler, concatMap, concatWith, connect, defer, endWith, finalize, identity, ignoreElements, interval, map, merge, of, pipe, takeUntil, tap, type Observable, type SchedulerLike } from 'rxjs';
import { ChurnflowError } from '../src/errors.js';
import type { CompiledSpec } from '../src/features/compile-spec.js';
import type { ValidationRules } from '../src/events/validate-event.js';
import type { EngineMetrics } from '../src/observability/metrics.js';
import { acknowledge } from '../src/operators/acknowledge.js';
import { CommitSchedule, type WriteBehind } from '../src/operators/commit-schedule.js';
import { applyToState } from '../src/operators/apply-to-state.js';
import { BatchActivity } from '../src/operators/batch-activity.js';
import type { DecidedBatch } from '../src/operators/batch.js';
import { decideRisk, type DecisionOptions, type ProcessingTimeMode } from '../src/operators/decide-risk.js';
import { decodeRecords } from '../src/operators/decode-records.js';
import { microBatch, type MicroBatchOptions } from '../src/operators/micro-batch.js';
import { createDriftStage, type DriftStage } from '../src/operators/monitor-drift.js';
import { observeBatch, timed } from '../src/operators/observe-batch.js';
import { ownShard, type Shard } from '../src/operators/own-shard.js';
import { persistDecisions } from '../src/operators/persist-decisions.js';
import { holdForTrim, TrimOnCommit } from '../src/operators/trim-committed.js';
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
import { isWriteBehindStore } from '../src/state/hot-cache.js';
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
  /**
   * Write-behind (a store that supports it: the hot cache): a customer whose batch decided nothing stays
   * unwritten for up to delayMs, at most maxPending customers at once; commits stop before their records
   * (src/operators/commit-schedule.ts). Absent or delayMs 0: every batch writes every customer it changed.
   */
  readonly writeBehind?: Omit<WriteBehind, 'store'>;
  /**
   * A parallel replay's worker: every record is decoded, validated and routed (the same event time in
   * every worker), and only this shard's share goes on (operators/own-shard.ts). Absent: everything.
   */
  readonly shard?: Shard;
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
  /** Each batch acknowledged (outputs done, positions handed to the commit schedule): readiness progress. */
  readonly onAcknowledged?: (records: number) => void;
  /** Per-stage timing hooks (bench/kafka-e2e's latency breakdown); absent in production. */
  readonly trace?: StageTrace;
}

export function churnScoringTopology(edges: ChurnScoringEdges, options: ChurnScoringOptions): Observable<DecidedBatch> {
  const { source, store, spec, clock, metrics, trace } = edges;
  const flow = new FlowControl(options.maxInFlight);
  const committed = new CommittedOffsets();
  const trimmer = new OutboxTrimmer(store, edges.onTrimError ? { onError: edges.onTrimError } : {});
  const trim = new TrimOnCommit(trimmer, committed);
  const wb = options.writeBehind && options.writeBehind.delayMs > 0 && isWriteBehindStore(store) ? { ...options.writeBehind, store } : undefined;
  const schedule = new CommitSchedule(source, committed, {
    clock,
    ...(wb ? { writeBehind: wb } : {}),
    retry: options.retry ?? DEFAULT_RETRY,
    onRetry: (err, attempt) => edges.onRetry?.(err, attempt),
    afterCommit: () => trim.committedNow(),
  });
  const activity = new BatchActivity();
  const watermarks = edges.watermarks ?? new WatermarkTracker({ allowedLatenessMs: options.allowedLatenessMs });
  // Records received, added to the counter as each micro-batch closes: prom-client's inc() per record
  // (labels hashed, value set) was ≈1 % of the engine's CPU. A record is counted when its batch closes,
  // at most engine.batch.maxWaitMs after it arrived.
  const received = metrics?.recordsReceived.labels({ source: source.name });
  let receivedSince = 0;
  const countReceived = () => {
    if (receivedSince === 0) return;
    received?.inc(receivedSince);
    receivedSince = 0;
  };
  const drift = edges.drift ? createDriftStage({ ...edges.drift, store, spec, model: edges.model, allowedLatenessMs: options.allowedLatenessMs }) : undefined;
  return source.records(flow).pipe(
    tap(() => receivedSince++),
    decodeRecords(edges.decoder), //                  bytes / objects → ActivityEvent, or dead letter
    validateEvents(edges.rules, edges.validationClock ?? clock), // ranges, future times, signup order → dead letter
    pipe(
      routeLateEvents({ allowedLatenessMs: options.allowedLatenessMs }, watermarks), // behind the watermark → late
      options.shard ? ownShard(options.shard, flow) : identity, // a parallel replay's worker: its customers (and its share of the rejects) only
    ),
    pipe(traceRecord(trace, 'received'), microBatch(options.batch, edges.scheduler, activity.boundaries()), tap(countReceived), traceItems(trace, 'batched')), // size, timer, or a fetch's end while the stages are idle
    tap(() => activity.started()),
    // Pending states age while no batch comes: ticks join the batches (serialised with them: a write of
    // pending states must not meet a batch holding them) until the input ends.
    wb ? connect((batches) => merge(batches, interval(wb.delayMs, edges.scheduler ?? asyncScheduler).pipe(map((): typeof TICK => TICK), takeUntil(batches.pipe(ignoreElements(), endWith(0)))))) : identity,
    // One batch at a time through the stateful stages: per-customer order and "last score" stay exact.
    concatMap((items) =>
      items === TICK ? defer(() => schedule.tick()).pipe(ignoreElements()) : of(items).pipe(
        timed(metrics?.batchSeconds, (batch$) =>
          batch$.pipe(
            // Each stage followed by its trace point (identity unless a bench traces the path).
            pipe(timed(metrics?.stateApplySeconds, applyToState(store, spec)), traceBatch(trace, 'loaded')), // load + transition (nothing written yet); features per event; redeliveries → stored decisions
            pipe(timed(metrics?.scoringSeconds, edges.scoring ? scoreWithLifecycle(edges.scoring) : scoreSteps(requireModel(edges.model))), traceBatch(trace, 'scored')), // ONNX, one call per batch and model
            pipe(decideRisk(options.risk, clock, { ...options.decision, processingTime: options.processingTime ?? 'clock' }), traceBatch(trace, 'decided')), // emit rule (hysteresis, cooldown), band, id, reasons, arm
            pipe(persistDecisions(store, committed, wb ? { store: wb.store, clock } : undefined), traceBatch(trace, 'persisted')), // new states + outbox + last scores, fenced, before any output (undecided ones may wait for the commit)
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
        holdForTrim(trim), // its customers' outbox entries go once their offsets are committed (in the background, not awaited)
        pipe(acknowledge(schedule, flow, edges.onAcknowledged), traceBatch(trace, 'committed')), // commit positions (now or at the interval), return credits
        observeBatch(metrics, clock),
        tap(() => {
          const wm = watermarks.overall();
          if (wm !== undefined) metrics?.watermarkLagSeconds.set(Math.max(0, clock.now() - wm) / 1000);
        }),
        finalize(() => activity.finished()),
      ),
    ),
    // Input exhausted or drained: what is held is written and committed, and the last deletes finish,
    // before the job completes (and the store closes).
    concatWith(
      defer(async () => {
        await schedule.finish();
        await trimmer.settle();
      }).pipe(ignoreElements()),
    ),
  );
}

/** A commit-interval tick among the batches. */
const TICK = Symbol('commit tick');

function requireModel(model: () => ScoringModel | undefined): () => ScoringModel {
  return () => {
    const m = model();
    if (!m) throw new ChurnflowError('CF_MODEL_UNAVAILABLE', 'no model to score with (a topology without a model lifecycle needs one)', { retriable: false });
    return m;
  };
}
