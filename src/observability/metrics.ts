// Prometheus metrics of one engine, on its own registry (several engines in one process, e.g. tests,
// do not collide). Names follow Prometheus conventions: _total counters, _seconds histograms.
// Every series carries the engine's `instance` label (a default label of the registry, so the drift
// monitor's metrics registered later carry it too): the instances of one consumer group each export
// their own counts, and dashboards sum over them (deploy/grafana, deploy/prometheus/alerts.yml).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { resolveInstanceId } from './instance-id.js';

export function createEngineMetrics(options: { defaultMetrics?: boolean; /** Default: resolveInstanceId() (HOSTNAME, else host-pid). */ instance?: string } = {}) {
  const registry = new Registry();
  const instance = options.instance ?? resolveInstanceId(undefined);
  registry.setDefaultLabels({ instance });
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'churnflow_process_' });
  const r = [registry];
  const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
  return {
    registry,
    instance,
    recordsReceived: new Counter({ name: 'churnflow_records_received_total', help: 'Records read from the source, before decoding (counted as their micro-batch closes).', labelNames: ['source'], registers: r }),
    eventsProcessed: new Counter({ name: 'churnflow_events_processed_total', help: 'Activity events applied to state, by kind.', labelNames: ['kind'], registers: r }),
    duplicatesSkipped: new Counter({ name: 'churnflow_duplicate_events_total', help: 'Redelivered events recognised by their source position and not applied again.', registers: r }),
    duplicateEventIds: new Counter({ name: 'churnflow_duplicate_event_ids_total', help: 'Events whose event_id was already applied at another position (producer retries): state unchanged, nothing published.', registers: r }),
    decisionsReemitted: new Counter({ name: 'churnflow_decisions_reemitted_total', help: 'Redelivered events whose stored decision (risk or shadow event, refusal) was re-emitted byte for byte.', registers: r }),
    deadLetters: new Counter({ name: 'churnflow_dead_letters_total', help: 'Records sent to the dead-letter output, by reason code.', labelNames: ['reason'], registers: r }),
    lateEvents: new Counter({ name: 'churnflow_late_events_total', help: 'Events behind the watermark by more than the allowed lateness, sent to the late output.', registers: r }),
    riskEvents: new Counter({ name: 'churnflow_risk_events_total', help: 'Risk events emitted, by band.', labelNames: ['band', 'model_version'], registers: r }),
    riskSuppressed: new Counter({
      name: 'churnflow_risk_suppressed_total',
      help: 'Scores the emit rule did not publish, by reason: same_band, within_hysteresis (below the band edge within the margin), cooldown (a large move too soon), small_move.',
      labelNames: ['reason'],
      registers: r,
    }),
    scores: new Counter({ name: 'churnflow_scores_total', help: 'Customers scored, by model version and scorer (model | canary | fallback).', labelNames: ['model_version', 'scorer'], registers: r }),
    batchRetries: new Counter({ name: 'churnflow_batch_retries_total', help: 'Micro-batches run again after a retriable error (Redis or Kafka briefly unavailable).', registers: r }),
    consumerLag: new Gauge({ name: 'churnflow_consumer_lag', help: 'Records behind the partition high watermark at the last fetch.', labelNames: ['topic', 'partition'], registers: r }),
    commitsRefused: new Counter({ name: 'churnflow_offset_commits_refused_total', help: 'Offset commits not made: refused after a rebalance (the new owner redelivers the records), or not sent while the consumer restarts or an earlier timed-out commit is still out (the records go with the next commit).', registers: r }),
    rebalances: new Counter({ name: 'churnflow_rebalances_total', help: 'Consumer group joins (start-up and rebalances).', registers: r }),
    scoringErrors: new Counter({ name: 'churnflow_scoring_errors_total', help: 'Scoring calls that failed.', registers: r }),
    batchSize: new Histogram({ name: 'churnflow_batch_records', help: 'Records per micro-batch.', buckets: [1, 8, 32, 64, 128, 256, 512, 1024, 2048], registers: r }),
    stateApplySeconds: new Histogram({ name: 'churnflow_state_apply_seconds', help: 'Time to apply one micro-batch to the state store.', buckets: latencyBuckets, registers: r }),
    scoringSeconds: new Histogram({ name: 'churnflow_scoring_seconds', help: 'Time to score one micro-batch with the model.', buckets: latencyBuckets, registers: r }),
    batchSeconds: new Histogram({ name: 'churnflow_batch_seconds', help: 'Time to process one micro-batch end to end (state, scoring, outputs, ack).', buckets: latencyBuckets, registers: r }),
    eventLatencySeconds: new Histogram({ name: 'churnflow_event_to_risk_latency_seconds', help: 'From a record being received to its outputs being acknowledged.', buckets: latencyBuckets, registers: r }),
    watermarkLagSeconds: new Gauge({ name: 'churnflow_watermark_lag_seconds', help: 'Processing time minus the lowest event-time watermark.', registers: r }),
    stateCustomers: new Gauge({ name: 'churnflow_state_customers', help: 'Customers in the state store, store-wide (memory: every 15 s; Redis: a SCAN every 5 min).', registers: r }),
    stateBytesPerCustomer: new Gauge({ name: 'churnflow_state_bytes_per_customer', help: 'Mean state per customer in bytes (memory: binary encoding; Redis: MEMORY USAGE of a sample of keys).', registers: r }),
    stateCacheHits: new Counter({ name: 'churnflow_state_cache_reads_avoided_total', help: 'Customers of a batch served from the hot cache instead of a Redis read.', registers: r }),
    stateCacheMisses: new Counter({ name: 'churnflow_state_cache_misses_total', help: 'Customers of a batch read from Redis (not in the hot cache).', registers: r }),
    stateCacheDropped: new Counter({ name: 'churnflow_state_cache_dropped_total', help: 'Hot-cache entries dropped: revoked (partition left), fenced (another instance wrote), unknown (a write that failed or may have).', labelNames: ['reason'], registers: r }),
    stateBudgetExceeded: new Counter({ name: 'churnflow_state_budget_exceeded_total', help: 'Customer states that hit the per-customer byte budget and shed old buckets.', registers: r }),
    fallbackActive: new Gauge({ name: 'churnflow_fallback_active', help: '1 while the fallback rules score instead of the model (it could not load or score), else 0.', registers: r }),
    modelSwaps: new Counter({ name: 'churnflow_model_swaps_total', help: 'Models switched in a running engine (alias moved: promote, rollback), by alias.', labelNames: ['alias', 'from_version', 'to_version'], registers: r }),
    modelLoadFailures: new Counter({ name: 'churnflow_model_load_failures_total', help: 'Bundles an alias pointed at that could not be loaded (the engine kept what it had).', labelNames: ['alias', 'model_version'], registers: r }),
    rollbackGuardValue: new Gauge({ name: 'churnflow_rollback_guard_value', help: 'What the automatic-rollback guard measures on the production model: error_rate, latency_p99 (ms), score_psi.', labelNames: ['model_version', 'trigger'], registers: r }),
    modelRollbacks: new Counter({ name: 'churnflow_model_rollbacks_total', help: 'Automatic rollbacks of the production alias, by trigger.', labelNames: ['reason'], registers: r }),
    shadowPairs: new Counter({ name: 'churnflow_shadow_scores_total', help: 'Customers scored by both production and the shadow model.', labelNames: ['production_version', 'shadow_version'], registers: r }),
    shadowBandFlips: new Counter({ name: 'churnflow_shadow_band_flips_total', help: 'Customers the shadow model puts in another band than production.', labelNames: ['production_version', 'shadow_version'], registers: r }),
    shadowCorrelation: new Gauge({ name: 'churnflow_shadow_score_correlation', help: 'Pearson correlation of production and shadow scores over the latest pairs.', labelNames: ['production_version', 'shadow_version'], registers: r }),
    shadowAboveThreshold: new Gauge({ name: 'churnflow_shadow_above_threshold_share', help: 'Share of the latest scored customers above each model’s own threshold.', labelNames: ['model_version', 'role'], registers: r }),
    modelInfo: new Gauge({ name: 'churnflow_model_info', help: 'The model in production (value 1), by name and version.', labelNames: ['model_name', 'model_version'], registers: r }),
    lifecycleState: new Gauge({ name: 'churnflow_lifecycle_state', help: 'Engine lifecycle: 0 created, 1 starting, 2 running, 3 draining, 4 stopped, 5 failed.', registers: r }),
  };
}

export type EngineMetrics = ReturnType<typeof createEngineMetrics>;
