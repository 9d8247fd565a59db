// Assembles the scoring engine from a validated config: the edges (source, decoder, store, model,
// sinks) chosen by config, owned by the App so they close in reverse order. `churnflow run` and the
// integration tests start engines through here; the topology itself is the same in every mode.
import { createHash } from 'node:crypto';
import { decisionOptions, emitPolicy, modelLoadOptions } from './config/decision-options.js';
import { hostname } from 'node:os';
import { LifecycleScorer } from './operators/score-steps.js';
import { createAliasStore, ModelRegistry } from './registry/model-registry.js';
import { createFallbackScorer, type FallbackScorer } from './scoring/fallback-scorer.js';
import { ModelHandle } from './scoring/model-handle.js';
import { ModelWatcher } from './scoring/model-watcher.js';
import { RollbackGuard, type RollbackTrigger } from './scoring/rollback-guard.js';
import { ShadowAgreement, type AgreementFigures } from './scoring/shadow-agreement.js';
import { churnScoringTopology } from '../topologies/churn-scoring.topology.js';
import { App } from './app.js';
import { ChurnflowError } from './errors.js';
import type { ChurnflowConfig } from './config/config-schema.js';
import type { DriftMetricRecord } from './events/wire-types.js';
import { currentRiskRecord } from './scoring/current-risk.js';
import { publishedLastScore } from './scoring/restore-emit-memory.js';
import { createDriftMonitor } from './monitoring/create-drift-monitor.js';
import type { Logger } from './observability/logger.js';
import { stateGaugeIntervalMs, watchStateGauges } from './state/state-gauges.js';
import { createEngineMetrics, type EngineMetrics } from './observability/metrics.js';
import { resolveInstanceId } from './observability/instance-id.js';
import { startHttpServer } from './observability/http-server.js';
import { reportProgress } from './observability/progress-source.js';
import { ProgressTracker } from './observability/progress-tracker.js';
import { loadScoringModel, type ScoringModelOptions } from './scoring/scoring-model.js';
import type { RecordDecoder } from './serde/record-decoder.js';
import type { RecordSink } from './sinks/record-sink.js';
import { fileSourceOptions } from './sources/file-input.js';
import { createFileSource } from './sources/file-source.js';
import type { RecordSource } from './sources/record-source.js';
import { createSimulatorSource, type SimulatorSourceOptions } from './sources/simulator-source.js';
import { resolveSimulatorOptions, simulationEndTime, type SimulatorOptions } from './simulator/index.js';
import type { StateStore } from './state/state-store.js';
import { systemClock, type Clock } from './time/clock.js';
import { WatermarkTracker } from './time/watermark.js';
import { buildDecoder } from './compose/event-decoding.js';
import { buildEventTimePolicy } from './compose/event-time-policy.js';
import { buildSpec } from './compose/feature-spec.js';
import { selectModel } from './compose/model.js';
import { lazyRegistryClient } from './compose/registry-client.js';
import { buildSinks } from './compose/sinks.js';
import { buildStateStore } from './compose/state-store.js';
import { FLUSH_CHUNK, HotCachedStore } from './state/hot-cache.js';
import type { CompiledSpec } from './features/compile-spec.js';
import type { DecidedBatch } from './operators/batch.js';
import type { StageTrace } from './operators/trace-stages.js';
import type { Observable } from 'rxjs';

/**
 * The Kafka consumer-group source and the start-up checks plug in here (engine-production.ts); a
 * source factory returns undefined when the config asks for a local source (file, simulator). Every
 * other edge (decoder, store, sinks, model, event-time policy) comes from src/compose/, chosen by config.
 */
export interface EdgeFactories {
  /** Runs before anything starts: e.g. wrong credentials fail start-up as CF_CONFIG_INVALID, not after ready. */
  preflight?(ctx: { readonly config: Readonly<ChurnflowConfig>; readonly logger: Logger }): Promise<void>;
  source?(ctx: EdgeContext): Promise<RecordSource | undefined>;
}

export interface EdgeContext {
  readonly config: Readonly<ChurnflowConfig>;
  readonly app: App;
  readonly logger: Logger;
  readonly metrics: EngineMetrics;
  readonly spec: CompiledSpec;
  readonly clock: Clock;
  /** Lag and acknowledged batches, for /readyz (sources report their lag here). */
  readonly progress: ProgressTracker;
  /** The decoder (sources that prefetch per batch call its prepare()). */
  readonly decoder: RecordDecoder;
  /** The topology's event-time tracker (sources with offsets persist and restore its frontiers). */
  readonly watermarks: WatermarkTracker;
  /** Streams (partitions) this instance no longer reads: their event-time state goes everywhere. */
  readonly revokeStreams: (streams: readonly string[]) => void;
  /** Set by a source with a consumer group: the customers this instance owns (drift samples only those). Absent: every customer. */
  ownsCustomer?: (customerId: string) => boolean;
}

export interface Engine {
  readonly app: App;
  readonly metrics: EngineMetrics;
  readonly job: Observable<DecidedBatch>;
  readonly httpUrl: string | undefined;
  /** The models scoring now (production, candidate). */
  readonly models: ModelHandle;
  /** Production/shadow agreement now (undefined until a shadow scored). */
  shadowAgreement(): ShadowAgreementNow | undefined;
  /** Watches the registry aliases (absent when model.dir pins a bundle). */
  readonly watcher?: ModelWatcher;
  /** The state store (the demo's summary reads it after the drain). */
  readonly store: StateStore;
  readonly spec: CompiledSpec;
  /** Runs until the source ends (bounded) or stop()/SIGTERM; resolves after a graceful drain. `onDrained` runs before resources close. */
  run(onBatch?: (batch: DecidedBatch) => void, onDrained?: () => Promise<void>): Promise<void>;
}

export async function createEngine(
  config: Readonly<ChurnflowConfig>,
  options: {
    logger: Logger;
    factories?: EdgeFactories;
    clock?: Clock;
    metrics?: EngineMetrics;
    /** With source.kind simulator: these simulated customers (default: the simulator's defaults), paced. */
    simulator?: { readonly options: SimulatorOptions; readonly pacing?: SimulatorSourceOptions };
    /** Wraps the drift output (e.g. the demo's tally), whatever edge provides it. */
    wrapDriftSink?: (sink: RecordSink<DriftMetricRecord>) => RecordSink<DriftMetricRecord>;
    /** Per-stage timing hooks (bench/kafka-e2e's latency breakdown). */
    trace?: StageTrace;
  },
): Promise<Engine> {
  const { logger } = options;
  const clock = options.clock ?? systemClock;
  const metrics = options.metrics ?? createEngineMetrics({ instance: resolveInstanceId(config.instance.id) });
  const app = new App(logger, metrics);
  app.starting();
  try {
    await options.factories?.preflight?.({ config, logger });
    const spec = buildSpec(config);
    const fallback = config.fallback.enabled ? createFallbackScorer(config.fallback, spec.columns) : undefined;
    const handle = new ModelHandle((m, err) => (err ? logger.warn({ err, model: m.manifest.version }, 'closing a replaced model failed') : logger.debug({ model: m.manifest.version }, 'replaced model closed')));
    // Owned first, so closed last: in-flight batches of a drain are scored by the same models.
    app.own('models', handle, (h) => h.close());
    const models = await startModels(config, spec, handle, { logger, metrics, clock, app });
    const production = handle.get('production');
    if (!production && !fallback) throw new ChurnflowError('CF_MODEL_UNAVAILABLE', 'no production model could be loaded and fallback.enabled is false');
    logger.info({ model: production ? `${production.manifest.name}@${production.manifest.version}` : 'none: fallback rules score', spec: spec.hash, registry: models.registry ? config.model.registry.dir : 'pinned' }, 'models ready');
    const simulator = config.source.kind === 'simulator' ? (options.simulator ?? { options: resolveSimulatorOptions({}) }) : undefined;
    // One event-time rule for validation, lateness and drift windows, the watermark judged against the same "now" as the future-time check.
    const eventTime = buildEventTimePolicy(config, { ...(simulator ? { simulatedEnd: simulationEndTime(simulator.options) } : {}), wallClock: clock });
    const watermarks = eventTime.watermarks(eventTime.validationClock);
    const appliedWatermarks = eventTime.watermarks(eventTime.validationClock);
    const revokeStreams = (streams: readonly string[]) => {
      for (const s of streams) {
        watermarks.remove(s);
        appliedWatermarks.remove(s);
      }
      // The hot cache forgets the revoked partitions' customers: another instance writes them now.
      if (store instanceof HotCachedStore) store.revoke(streams);
    };
    const progress = new ProgressTracker({ stallAfterMs: config.http.readiness.stallAfterMs, clock });
    const registry = lazyRegistryClient(config, app);
    const store = app.own('state', buildStateStore(config, spec, { onBudgetExceeded: () => metrics.stateBudgetExceeded.inc(), engineMetrics: metrics }), (s) => s.close());
    // Owned after the store, so stopped before it closes.
    app.own('state-gauges', watchStateGauges(() => store.stats(), metrics, { intervalMs: stateGaugeIntervalMs(store.kind), onError: (err) => logger.warn({ err }, 'state gauges: reading the store figures failed') }), (w) => w.stop());
    const decoder = buildDecoder(config, config.source.kind === 'file' ? { kind: 'file', path: config.source.file! } : config.source.kind === 'kafka' ? { kind: 'kafka', registry, clock } : { kind: 'simulator' });
    const sinks = await buildSinks(config, { owner: app, registry, logger });
    const ctx: EdgeContext = { config, app, logger, metrics, spec, clock, decoder, watermarks, revokeStreams, progress };
    const source = reportProgress((await options.factories?.source?.(ctx)) ?? localSource(config, app, clock, simulator), progress);
    app.onStop(() => source.stop());

    const http = config.http.enabled
      ? app.own(
          'http',
          await startHttpServer({
            host: config.http.host,
            port: config.http.port,
            registry: metrics.registry,
            lifecycle: () => readiness(app, progress),
            maxIdLength: config.validation.maxIdLength,
            ...(config.http.customerLookup.bearerToken !== undefined ? { bearerToken: config.http.customerLookup.bearerToken } : {}),
            // The current-risk view, from the same state the compacted topic's records are made of.
            customerRisk: async (id) => {
              const state = (await store.get([id]))[0];
              const last = state ? publishedLastScore(state) : null;
              return last ? currentRiskRecord(id, last) : null;
            },
          }),
          (h) => h.close(),
        )
      : undefined;

    // Drift, performance and rollback records share one output (the drift topic, or drift.ndjson).
    const driftSink = sinks.drift && options.wrapDriftSink ? options.wrapDriftSink(sinks.drift) : sinks.drift;
    const drift =
      config.monitoring.enabled && production && driftSink
        ? {
            monitor: createDriftMonitor(config, spec, production.manifest, metrics),
            sink: driftSink,
            sampleRate: config.monitoring.sampleRate,
            sample: { maxCustomers: config.monitoring.sample.maxCustomers, loadChunk: config.monitoring.sample.loadChunk, scanPage: config.monitoring.sample.scanPage, ...(ctx.ownsCustomer ? { owns: ctx.ownsCustomer } : {}) },
            applied: appliedWatermarks,
          }
        : undefined;
    if (config.monitoring.enabled && !drift) logger.warn('monitoring is enabled but no production model is loaded: drift monitoring is off for this run');
    const { scorer: lifecycle, shadowAgreement } = lifecycleScorer(config, { handle, fallback, clock, logger, metrics, models, driftSink, app });
    const job = churnScoringTopology(
      {
        source,
        decoder,
        rules: eventTime.rules,
        store,
        spec,
        model: () => handle.get('production'),
        scoring: lifecycle,
        sinks,
        clock,
        validationClock: eventTime.validationClock,
        metrics,
        watermarks,
        ...(drift ? { drift } : {}),
        ...(options.trace ? { trace: options.trace } : {}),
        onRetry: (err, attempt) => {
          metrics.batchRetries.inc();
          logger.warn({ err, attempt }, 'batch failed with a retriable error; retrying');
        },
        onAcknowledged: (records) => progress.acknowledged(records),
        onTrimError: (err, customers) => logger.warn({ err, customers }, 'deleting committed outbox entries failed; trying again with the next batch'),
      },
      {
        allowedLatenessMs: eventTime.allowedLatenessMs,
        batch: config.engine.batch,
        maxInFlight: config.engine.maxInFlight,
        risk: emitPolicy(config.engine.risk),
        decision: decisionOptions(config),
        // Only a store with write-behind (the hot cache: Redis with state.redis.cache.enabled) uses it.
        // At most one flush chunk of due states after each batch (commit-schedule.ts: spread, not a burst).
        writeBehind: { delayMs: config.state.redis.cache.writeBehindMs, maxPending: config.state.redis.cache.maxPendingCustomers, maxPerBatch: FLUSH_CHUNK },
      },
    );
    return {
      app,
      metrics,
      job,
      httpUrl: http?.url,
      models: handle,
      shadowAgreement,
      ...(models.watcher ? { watcher: models.watcher } : {}),
      store,
      spec,
      run: (onBatch, onDrained) => app.run(job, { ...(onBatch ? { onNext: onBatch } : {}), ...(onDrained ? { onDrained } : {}) }),
    };
  } catch (err) {
    await app.abort(err);
    throw err;
  }
}

/** Ready = RUNNING and not stalled (records waiting, no batch acknowledged for http.readiness.stallAfterMs). */
function readiness(app: App, progress: ProgressTracker): { state: string; ready: boolean; reason?: string } {
  if (!app.ready) return { state: app.state, ready: false, reason: `lifecycle is ${app.state}, not RUNNING` };
  const v = progress.verdict();
  return v.stalled ? { state: app.state, ready: false, reason: v.reason } : { state: app.state, ready: true };
}

function localSource(config: Readonly<ChurnflowConfig>, app: App, clock: Clock, simulator: { readonly options: SimulatorOptions; readonly pacing?: SimulatorSourceOptions } | undefined): RecordSource {
  if (config.source.kind === 'file') return app.own('source', createFileSource(config.source.file!, clock, fileSourceOptions(config.input)), (s) => s.close());
  if (simulator) return app.own('source', createSimulatorSource(simulator.options, clock, simulator.pacing), (s) => s.close());
  throw new ChurnflowError('CF_CONFIG_INVALID', `source.kind '${config.source.kind}' needs the production edges (churnflow run)`);
}

/** Agreement of production and the shadow model over the latest pairs (the metrics' source). */
export interface ShadowAgreementNow {
  readonly productionVersion: string;
  readonly shadowVersion: string;
  readonly figures: AgreementFigures;
}

interface StartedModels {
  readonly registry?: ModelRegistry;
  readonly watcher?: ModelWatcher;
}

/**
 * Loads the models the engine scores with: a pinned bundle (model.dir), or the registry aliases,
 * watched from then on so a promote or rollback reaches this instance within pollIntervalMs.
 */
async function startModels(
  config: Readonly<ChurnflowConfig>,
  spec: CompiledSpec,
  handle: ModelHandle,
  ctx: { logger: Logger; metrics: EngineMetrics; clock: Clock; app: App },
): Promise<StartedModels> {
  const { logger, metrics, app } = ctx;
  const loadOptions: ScoringModelOptions = {
    ...modelLoadOptions(config),
    // Same scores and reasons without it; only throughput drops, so it is said once, loudly.
    onWorkerFailure: (what, err) => logger.error({ err, worker: what }, `the ${what} worker thread failed: the main thread computes every row from now on (model.workerShare)`),
  };
  // The same selection as every command's (src/compose/model.ts): a pinned bundle, else the alias.
  const selection = selectModel(config);
  if (selection.kind === 'pinned') {
    if (config.model.shadow.enabled || config.model.canary.share > 0 || config.model.rollback.enabled) {
      logger.warn({ dir: selection.dir }, 'model.dir pins one bundle: shadow, canary and automatic rollback need the registry and are off');
    }
    try {
      const model = await loadScoringModel(selection.dir, spec, loadOptions);
      handle.set('production', model);
      metrics.modelInfo.set({ model_name: model.manifest.name, model_version: model.manifest.version }, 1);
    } catch (err) {
      // A bundle trained on another feature spec is a configuration error, not an outage.
      if (err instanceof ChurnflowError && err.code === 'CF_MODEL_SPEC_MISMATCH') throw err;
      metrics.modelLoadFailures.inc({ alias: 'pinned', model_version: 'unknown' });
      logger.error({ err, dir: selection.dir }, 'cannot load the model bundle; the fallback rules score until it can');
    }
    return {};
  }
  const aliases = app.own('model-aliases', createAliasStore(config), (s) => s.close());
  const registry = new ModelRegistry({ root: selection.registryDir, aliases });
  const watcher = new ModelWatcher({
    store: aliases,
    bundleDir: (version) => registry.bundleDir(selection.name, version),
    name: selection.name,
    // The configured alias scores (the production slot); the candidate alias shadows or canaries beside it.
    slots: selection.alias === 'production' && (config.model.shadow.enabled || config.model.canary.share > 0) ? { production: 'production', candidate: 'candidate' } : { production: selection.alias },
    spec,
    handle,
    clock: ctx.clock,
    pollIntervalMs: config.model.registry.pollIntervalMs,
    logger,
    metrics,
    loadOptions,
  });
  // Owned before start(): a start that fails half-way still stops the timer.
  app.own('model-watcher', watcher, (w) => w.stop());
  await watcher.start();
  // No alias moves once stop() begins (the drain scores with what is loaded); the models close after the drain.
  app.onStop(() => watcher.stop());
  return { registry, watcher };
}

/** Scoring with the lifecycle: fallback rules, shadow and canary, agreement metrics, automatic rollback. */
function lifecycleScorer(
  config: Readonly<ChurnflowConfig>,
  ctx: { handle: ModelHandle; fallback: FallbackScorer | undefined; clock: Clock; logger: Logger; metrics: EngineMetrics; models: StartedModels; driftSink: RecordSink<DriftMetricRecord> | undefined; app: App },
): { scorer: LifecycleScorer; shadowAgreement: () => ShadowAgreementNow | undefined } {
  const { handle, logger, metrics, models } = ctx;
  const guard = config.model.rollback.enabled && models.registry ? new RollbackGuard(config.model.rollback) : undefined;
  const agreement = new ShadowAgreement();
  /** The two versions the agreement figures are about (reset when either changes). */
  let pair: { productionVersion: string; shadowVersion: string } | undefined;
  let rollingBack = false;
  const rollback = async (t: RollbackTrigger) => {
    const name = config.model.name;
    const reason = `automatic: ${t.reason} ${t.value.toPrecision(4)} > ${t.limit} over ${t.sample} (${t.reason === 'score_psi' ? 'latest scores' : 'scoring calls'}) of ${name}@${t.version}`;
    try {
      // Only the version judged: with several instances, the first verdict rolls back and the others find it moved.
      const result = await models.registry!.rollback(name, { reason, actor: `churnflow-engine@${hostname()}`, ifProductionIs: t.version });
      metrics.modelRollbacks.inc({ reason: t.reason });
      logger.error({ trigger: t, from: result.from, to: result.to }, 'production model rolled back automatically');
      const now = ctx.clock.now();
      await ctx.driftSink?.write([rollbackRecord(name, t, now)]);
      await models.watcher?.poll();
    } catch (err) {
      logger.error({ err, trigger: t }, 'automatic rollback failed; the model stays in production');
    } finally {
      rollingBack = false;
    }
  };
  const scorer = new LifecycleScorer({
    handle,
    clock: ctx.clock,
    ...(ctx.fallback ? { fallback: ctx.fallback } : {}),
    retryAfterMs: config.fallback.retryAfterMs,
    shadow: config.model.shadow.enabled,
    ...(config.model.canary.share > 0 ? { canary: config.model.canary } : {}),
    hooks: {
      onScoringError: (err, ref) => {
        metrics.scoringErrors.inc();
        logger.error({ err, model: `${ref.name}@${ref.version}` }, 'scoring failed');
        // A version that fails from its first batch is judged too (watch() before the first success).
        if (guard && ref.manifest && ref.version === handle.get('production')?.manifest.version) {
          guard.watch(ref.manifest);
          guard.recordFailure(ref.version);
        }
        maybeRollback();
      },
      onFallback: (active, why) => {
        metrics.fallbackActive.set(active ? 1 : 0);
        if (active) logger.error({ why }, 'fallback rules now score customers');
        else logger.warn({ why }, 'back to the model; fallback rules off');
      },
      onScored: (ref, seconds, scores) => {
        if (!guard || !ref.manifest) return;
        guard.watch(ref.manifest);
        guard.recordScored(ref.version, seconds, scores);
        maybeRollback();
      },
      onShadow: (prod, shadow, a, b) => {
        if (pair?.productionVersion !== prod.version || pair.shadowVersion !== shadow.version) {
          agreement.reset();
          pair = { productionVersion: prod.version, shadowVersion: shadow.version };
        }
        const labels = { production_version: prod.version, shadow_version: shadow.version };
        const flips = agreement.add(prod, shadow, a, b);
        metrics.shadowPairs.inc(labels, a.length);
        if (flips > 0) metrics.shadowBandFlips.inc(labels, flips);
        const f = agreement.figures();
        if (!Number.isNaN(f.correlation)) metrics.shadowCorrelation.set(labels, f.correlation);
        metrics.shadowAboveThreshold.set({ model_version: prod.version, role: 'production' }, f.productionAbove);
        metrics.shadowAboveThreshold.set({ model_version: shadow.version, role: 'shadow' }, f.shadowAbove);
      },
    },
  });
  return { scorer, shadowAgreement: () => (pair ? { ...pair, figures: agreement.figures() } : undefined) };

  function maybeRollback(): void {
    if (!guard || rollingBack) return;
    const t = guard.check();
    const version = handle.get('production')?.manifest.version;
    if (version) for (const [trigger, value] of guard.latest) metrics.rollbackGuardValue.set({ model_version: version, trigger }, value);
    if (!t) return;
    rollingBack = true;
    void rollback(t);
  }
}

/** The record a rollback leaves on the drift output: which version, which trigger, its value. */
function rollbackRecord(modelName: string, t: RollbackTrigger, now: number): DriftMetricRecord {
  const metricId = `dm-${createHash('sha256').update(`rollback\u0000${modelName}\u0000${t.version}\u0000${t.reason}\u0000${now}`).digest('hex').slice(0, 32)}`;
  return {
    metric_id: metricId,
    model_name: modelName,
    model_version: t.version,
    subject: 'model_rollback',
    statistic: t.reason,
    value: t.value,
    p_value: null,
    severity: 'alert',
    sample_size: t.sample,
    window_start: now,
    window_end: now,
  };
}
