// Assembles the scoring engine from a validated config: the edges (source, decoder, store, model,
// sinks) chosen by config, owned by the App so they close in reverse order. `churnflow run` and the
// integration tests start engines through here; the topology itself is the same in every mode.
import { createHash } from 'node:crypto';
import { decisionOptions, emitPolicy, modelLoadOptions } from './config/decision-options.js';
import { stateRules } from './config/state-rules.js';
import { hostname } from 'node:os';
import { LifecycleScorer } from './operators/score-steps.js';
import { createAliasStore, ModelRegistry } from './registry/model-registry.js';
import { createFallbackScorer, type FallbackScorer } from './scoring/fallback-scorer.js';
import { ModelHandle } from './scoring/model-handle.js';
import { ModelWatcher } from './scoring/model-watcher.js';
import { RollbackGuard, type RollbackTrigger } from './scoring/rollback-guard.js';
import { ShadowAgreement, type AgreementFigures } from './scoring/shadow-agreement.js';
import { join } from 'node:path';
import { churnScoringTopology } from '../topologies/churn-scoring.topology.js';
import { App } from './app.js';
import { ChurnflowError } from './errors.js';
import type { ChurnflowConfig } from './config/config-schema.js';
import { validationRules } from './config/validation-rules.js';
import type { CurrentRiskRecord, DeadLetterRecord, DriftMetricRecord, RiskEventRecord } from './events/wire-types.js';
import { currentRiskRecord } from './scoring/current-risk.js';
import { createDriftMonitor } from './monitoring/create-drift-monitor.js';
import { loadFeatureSpec } from './features/load-spec.js';
import type { Logger } from './observability/logger.js';
import { createEngineMetrics, type EngineMetrics } from './observability/metrics.js';
import { resolveInstanceId } from './observability/instance-id.js';
import { startHttpServer } from './observability/http-server.js';
import { reportProgress } from './observability/progress-source.js';
import { ProgressTracker } from './observability/progress-tracker.js';
import { loadScoringModel } from './scoring/scoring-model.js';
import { decoderFor } from './serde/decoder-for.js';
import type { RecordDecoder } from './serde/record-decoder.js';
import { createFileSink } from './sinks/file-sink.js';
import { limitDeadLetterSinks } from './sinks/limit-dead-letters.js';
import type { RecordSink } from './sinks/record-sink.js';
import { createStdoutSink } from './sinks/stdout-sink.js';
import type { OutputSinks } from './operators/write-outputs.js';
import { fileSourceOptions } from './sources/file-input.js';
import { createFileSource } from './sources/file-source.js';
import type { RecordSource } from './sources/record-source.js';
import { createSimulatorSource } from './sources/simulator-source.js';
import { resolveSimulatorOptions } from './simulator/index.js';
import { MemoryStateStore } from './state/memory-store.js';
import type { StateStore } from './state/state-store.js';
import { systemClock, type Clock } from './time/clock.js';
import { WatermarkTracker, type WatermarkOptions } from './time/watermark.js';
import type { CompiledSpec } from './features/compile-spec.js';
import type { DecidedBatch } from './operators/batch.js';
import type { Observable } from 'rxjs';

/**
 * Production edges (Kafka, Schema Registry, Redis) plug in here (engine-production.ts); a factory
 * returns undefined when the config asks for the local edge (memory store, files, simulator).
 */
export interface EdgeFactories {
  /** Runs before anything starts: e.g. wrong credentials fail start-up as CF_CONFIG_INVALID, not after ready. */
  preflight?(ctx: { readonly config: Readonly<ChurnflowConfig>; readonly logger: Logger }): Promise<void>;
  source?(ctx: EdgeContext): Promise<RecordSource | undefined>;
  decoder?(ctx: EdgeContext): Promise<RecordDecoder | undefined>;
  store?(ctx: EdgeContext): Promise<StateStore | undefined>;
  sinks?(ctx: EdgeContext): Promise<OutputSinks | undefined>;
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
  /** The decoder, once built (sources that prefetch per batch call its prepare()). */
  decoder?: RecordDecoder;
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
    /** "Now" for future-timestamp checks, when it differs from the clock (simulated or replayed time). */
    validationClock?: Clock;
    /** Wraps the drift output (e.g. the demo's tally), whatever edge provides it. */
    wrapDriftSink?: (sink: RecordSink<DriftMetricRecord>) => RecordSink<DriftMetricRecord>;
  },
): Promise<Engine> {
  const { logger } = options;
  const clock = options.clock ?? systemClock;
  const metrics = options.metrics ?? createEngineMetrics({ instance: resolveInstanceId(config.instance.id) });
  const app = new App(logger, metrics);
  app.starting();
  try {
    await options.factories?.preflight?.({ config, logger });
    const spec = loadFeatureSpec(config.features.spec, { allowedLatenessMs: config.engine.allowedLatenessMs });
    const fallback = config.fallback.enabled ? createFallbackScorer(config.fallback, spec.columns) : undefined;
    const handle = new ModelHandle((m, err) => (err ? logger.warn({ err, model: m.manifest.version }, 'closing a replaced model failed') : logger.debug({ model: m.manifest.version }, 'replaced model closed')));
    // Owned first, so closed last: in-flight batches of a drain are scored by the same models.
    app.own('models', handle, (h) => h.close());
    const models = await startModels(config, spec, handle, { logger, metrics, clock, app });
    const production = handle.get('production');
    if (!production && !fallback) throw new ChurnflowError('CF_MODEL_UNAVAILABLE', 'no production model could be loaded and fallback.enabled is false');
    logger.info({ model: production ? `${production.manifest.name}@${production.manifest.version}` : 'none: fallback rules score', spec: spec.hash, registry: models.registry ? config.model.registry.dir : 'pinned' }, 'models ready');
    // One event-time rule for lateness and drift windows, judged against the same "now" as the future-time check.
    const watermarkOptions = eventTimeRule(config, options.validationClock ?? clock);
    const watermarks = new WatermarkTracker(watermarkOptions);
    const appliedWatermarks = new WatermarkTracker(watermarkOptions);
    const revokeStreams = (streams: readonly string[]) => {
      for (const s of streams) {
        watermarks.remove(s);
        appliedWatermarks.remove(s);
      }
    };
    const progress = new ProgressTracker({ stallAfterMs: config.http.readiness.stallAfterMs, clock });
    const ctx: EdgeContext = { config, app, logger, metrics, spec, clock, watermarks, revokeStreams, progress };
    const f = options.factories ?? {};

    const store = (await f.store?.(ctx)) ?? app.own('state', new MemoryStateStore(stateRules(config, spec, () => metrics.stateBudgetExceeded.inc())), (s) => s.close());
    const decoder = (await f.decoder?.(ctx)) ?? decoderFor(config.input, config.source.kind === 'file' ? { kind: 'file', path: config.source.file! } : { kind: 'simulator' });
    ctx.decoder = decoder;
    const sinks = limitDeadLetterSinks((await f.sinks?.(ctx)) ?? localSinks(config, app), config.sinks.deadLetter);
    const source = reportProgress((await f.source?.(ctx)) ?? localSource(config, app, clock), progress);
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
              const last = (await store.get([id]))[0]?.lastScore;
              return last ? currentRiskRecord(id, last) : null;
            },
          }),
          (h) => h.close(),
        )
      : undefined;

    // Drift, performance and rollback records share one output (the drift topic, or drift.ndjson).
    const rawDriftSink = sinks.drift ?? (config.monitoring.enabled || config.model.rollback.enabled ? app.own('drift-sink', createFileSink<DriftMetricRecord>(join(config.sinks.dir, 'drift.ndjson'), 'drift-metric'), (s) => s.close()) : undefined);
    const driftSink = rawDriftSink && options.wrapDriftSink ? options.wrapDriftSink(rawDriftSink) : rawDriftSink;
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
        rules: validationRules(config),
        store,
        spec,
        model: () => handle.get('production'),
        scoring: lifecycle,
        sinks,
        clock,
        ...(options.validationClock ? { validationClock: options.validationClock } : {}),
        metrics,
        watermarks,
        ...(drift ? { drift } : {}),
        onRetry: (err, attempt) => {
          metrics.batchRetries.inc();
          logger.warn({ err, attempt }, 'batch failed with a retriable error; retrying');
        },
      },
      {
        allowedLatenessMs: config.engine.allowedLatenessMs,
        batch: config.engine.batch,
        maxInFlight: config.engine.maxInFlight,
        risk: emitPolicy(config.engine.risk),
        decision: decisionOptions(config),
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

/** The watermark rule from config: skew bound and idleness against the event-time "now". */
export function eventTimeRule(config: Readonly<ChurnflowConfig>, now: Clock): WatermarkOptions {
  const { maxSkewMs, idleTimeoutMs } = config.engine.watermark;
  return { allowedLatenessMs: config.engine.allowedLatenessMs, maxSkewMs, ...(idleTimeoutMs > 0 ? { idleTimeoutMs } : {}), clock: now };
}

/** Ready = RUNNING and not stalled (records waiting, no batch acknowledged for http.readiness.stallAfterMs). */
function readiness(app: App, progress: ProgressTracker): { state: string; ready: boolean; reason?: string } {
  if (!app.ready) return { state: app.state, ready: false, reason: `lifecycle is ${app.state}, not RUNNING` };
  const v = progress.verdict();
  return v.stalled ? { state: app.state, ready: false, reason: v.reason } : { state: app.state, ready: true };
}

function localSource(config: Readonly<ChurnflowConfig>, app: App, clock: Clock): RecordSource {
  if (config.source.kind === 'file') return app.own('source', createFileSource(config.source.file!, clock, fileSourceOptions(config.input)), (s) => s.close());
  if (config.source.kind === 'simulator') return app.own('source', createSimulatorSource(resolveSimulatorOptions({}), clock), (s) => s.close());
  throw new ChurnflowError('CF_CONFIG_INVALID', `source.kind '${config.source.kind}' needs the production edges (churnflow run)`);
}

function localSinks(config: Readonly<ChurnflowConfig>, app: App): OutputSinks {
  if (config.sinks.kind === 'stdout') {
    const out = createStdoutSink<RiskEventRecord>();
    const dead = app.own('dead-letter-sink', createFileSink<DeadLetterRecord>(join(config.sinks.dir, 'dead-letters.ndjson'), 'dead-letter'), (s) => s.close());
    return { risk: out, deadLetter: dead, late: dead };
  }
  if (config.sinks.kind === 'file') {
    const risk: RecordSink<RiskEventRecord> = app.own('risk-sink', createFileSink<RiskEventRecord>(join(config.sinks.dir, 'risk-events.ndjson'), 'risk-event'), (s) => s.close());
    // The compacted topic's file form: an append-only log whose last line per customer is its current risk.
    const currentRisk = app.own('current-risk-sink', createFileSink<CurrentRiskRecord>(join(config.sinks.dir, 'current-risk.ndjson'), 'current-risk'), (s) => s.close());
    const dead = app.own('dead-letter-sink', createFileSink<DeadLetterRecord>(join(config.sinks.dir, 'dead-letters.ndjson'), 'dead-letter'), (s) => s.close());
    const shadow = config.model.shadow.enabled ? app.own('shadow-sink', createFileSink<RiskEventRecord>(join(config.sinks.dir, 'shadow-risk-events.ndjson'), 'risk-event'), (s) => s.close()) : undefined;
    return { risk, currentRisk, deadLetter: dead, late: dead, ...(shadow ? { shadow } : {}) };
  }
  throw new ChurnflowError('CF_CONFIG_INVALID', `sinks.kind '${config.sinks.kind}' needs the production edges (churnflow run)`);
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
  const loadOptions = modelLoadOptions(config);
  if (config.model.dir !== undefined) {
    if (config.model.shadow.enabled || config.model.canary.share > 0 || config.model.rollback.enabled) {
      logger.warn({ dir: config.model.dir }, 'model.dir pins one bundle: shadow, canary and automatic rollback need the registry and are off');
    }
    try {
      const model = await loadScoringModel(config.model.dir, spec, loadOptions);
      handle.set('production', model);
      metrics.modelInfo.set({ model_name: model.manifest.name, model_version: model.manifest.version }, 1);
    } catch (err) {
      // A bundle trained on another feature spec is a configuration error, not an outage.
      if (err instanceof ChurnflowError && err.code === 'CF_MODEL_SPEC_MISMATCH') throw err;
      metrics.modelLoadFailures.inc({ alias: 'pinned', model_version: 'unknown' });
      logger.error({ err, dir: config.model.dir }, 'cannot load the model bundle; the fallback rules score until it can');
    }
    return {};
  }
  const aliases = app.own('model-aliases', createAliasStore(config), (s) => s.close());
  const registry = new ModelRegistry({ root: config.model.registry.dir, aliases });
  const watcher = new ModelWatcher({
    store: aliases,
    bundleDir: (version) => registry.bundleDir(config.model.name, version),
    name: config.model.name,
    // The configured alias scores (the production slot); the candidate alias shadows or canaries beside it.
    slots: config.model.alias === 'production' && (config.model.shadow.enabled || config.model.canary.share > 0) ? { production: 'production', candidate: 'candidate' } : { production: config.model.alias },
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
