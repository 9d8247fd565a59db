// Metrics for the batch path, kept out of the logic operators: counts by kind, reason and band,
// per-record latency from receipt to acknowledgement, stage timings.
import { defer, tap, type MonoTypeOperatorFunction, type OperatorFunction } from 'rxjs';
import type { Histogram } from 'prom-client';
import type { EngineMetrics } from '../observability/metrics.js';
import type { Clock } from '../time/clock.js';
import type { DecidedBatch } from './batch.js';

export function observeBatch<B extends DecidedBatch>(metrics: EngineMetrics | undefined, clock: Clock): MonoTypeOperatorFunction<B> {
  return tap((batch) => {
    if (!metrics) return;
    const now = clock.now();
    metrics.batchSize.observe(batch.items.length);
    for (const item of batch.items) metrics.eventLatencySeconds.observe(Math.max(0, now - item.record.receivedAt) / 1000);
    for (const r of batch.rejected) {
      if (r.route === 'late') metrics.lateEvents.inc();
      else metrics.deadLetters.inc({ reason: r.code });
    }
    // One inc per kind and batch: a labelled inc hashes its labels, per event that was most of prom-client's cost.
    const kinds = new Map<string, number>();
    for (const s of batch.steps) kinds.set(s.item.event.kind, (kinds.get(s.item.event.kind) ?? 0) + 1);
    for (const [kind, n] of kinds) metrics.eventsProcessed.inc({ kind }, n);
    if (batch.duplicates.redelivered > 0) metrics.duplicatesSkipped.inc(batch.duplicates.redelivered);
    if (batch.duplicates.sameEventId > 0) metrics.duplicateEventIds.inc(batch.duplicates.sameEventId);
    if (batch.replays.length > 0) metrics.decisionsReemitted.inc(batch.replays.length);
    const canary = batch.canary ? batch.canary.steps.reduce((n, v) => n + v, 0) : 0;
    if (batch.steps.length - canary > 0) metrics.scores.inc({ model_version: batch.model.version, scorer: batch.model.scorer }, batch.steps.length - canary);
    if (canary > 0) metrics.scores.inc({ model_version: batch.canary!.ref.version, scorer: 'canary' }, canary);
    for (const e of batch.riskEvents) metrics.riskEvents.inc({ band: e.band, model_version: e.model_version });
    for (const [reason, n] of Object.entries(batch.suppressed)) if (n > 0) metrics.riskSuppressed.inc({ reason }, n);
  });
}

/** Times a stage that maps one input to one output (the per-batch stages). */
export function timed<A, B>(histogram: Histogram | undefined, op: OperatorFunction<A, B>): OperatorFunction<A, B> {
  if (!histogram) return op;
  return (source) =>
    defer(() => {
      let start = 0;
      return source.pipe(
        tap(() => {
          start = performance.now();
        }),
        op,
        tap(() => histogram.observe((performance.now() - start) / 1000)),
      );
    });
}
