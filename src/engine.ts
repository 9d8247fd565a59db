// Assembles the scoring engine from a validated config: the edges (source, decoder, store, model,
// sinks) chosen by config, owned by the App so they close in reverse order. `churnflow run` and the
// integration tests start engines through here; the topology itself is the same in every mode.
import { BUNDLED_MODEL } from './scoring/bundled-model.js';
import { join } from 'node:path';
import { churnScoringTopology } from '../topologies/churn-scoring.topology.js';
import { App } from './app.js';
import { ChurnflowError } from './errors.js';
import type { ChurnflowConfig } from './config/config-schema.js';
import { DEFAULT_VALIDATION_RULES } from './events/validate-event.js';
import type { DeadLetterRecord, DriftMetricRecord, RiskEventRecord } from './events/wire-types.js';
import { createDriftMonitor } from './monitoring/create-drift-monitor.js';
import type { ModelManifest } from './scoring/manifest.js';
import { loadFeatureSpec } from './features/load-spec.js';
import type { Logger } from './observability/logger.js';
import { createEngineMetrics, type EngineMetrics } from './observability/metrics.js';
import { startHttpServer } from './observability/http-server.js';
import { loadScoringModel } from './scoring/scoring-model.js';
import { ActivityCodec } from './serde/activity-codec.js';
import type { RecordDecoder } from './serde/record-decoder.js';
import { createFileSink } from './sinks/file-sink.js';
import type { RecordSink } from './sinks/record-sink.js';
import { createStdoutSink } from './sinks/stdout-sink.js';
import type { OutputSinks } from './operators/write-outputs.js';
import { createFileSource } from './sources/file-source.js';
import type { RecordSource } from './sources/record-source.js';
import { createSimulatorSource } from './sources/simulator-source.js';
import { resolveSimulatorOptions } from './simulator/index.js';
import { MemoryStateStore } from './state/memory-store.js';
import type { StateStore } from './state/state-store.js';
import { systemClock, type Clock } from './time/clock.js';
import type { CompiledSpec } from './features/compile-spec.js';
import type { DecidedBatch } from './operators/batch.js';
import type { Observable } from 'rxjs';

/**
 * Production edges (Kafka, Schema Registry, Redis) plug in here (engine-production.ts); a factory
 * returns undefined when the config asks for the local edge (memory store, files, simulator).
 */
export interface EdgeFactories {
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
  /** The decoder, once built (sources that prefetch per batch call its prepare()). */
  decoder?: RecordDecoder;
}

export interface Engine {
  readonly app: App;
  readonly metrics: EngineMetrics;
  readonly job: Observable<DecidedBatch>;
  readonly httpUrl: string | undefined;
  /** Runs until the source ends (bounded) or stop()/SIGTERM; resolves after a graceful drain. */
  run(onBatch?: (batch: DecidedBatch) => void): Promise<void>;
}

export async function createEngine(
  config: Readonly<ChurnflowConfig>,
  options: { logger: Logger; factories?: EdgeFactories; clock?: Clock; metrics?: EngineMetrics },
): Promise<Engine> {
  const { logger } = options;
  const clock = options.clock ?? systemClock;
  const metrics = options.metrics ?? createEngineMetrics();
  const app = new App(logger, metrics);
  app.starting();
  try {
    const spec = loadFeatureSpec(config.features.spec, { allowedLatenessMs: config.engine.allowedLatenessMs });
    const model = app.own('model', await loadScoringModel(config.model.dir ?? BUNDLED_MODEL, spec, { intraOpThreads: config.model.intraOpThreads }), (m) => m.close());
    metrics.modelInfo.set({ model_name: model.manifest.name, model_version: model.manifest.version }, 1);
    logger.info({ model: `${model.manifest.name}@${model.manifest.version}`, spec: spec.hash }, 'model loaded');
    const ctx: EdgeContext = { config, app, logger, metrics, spec, clock };
    const f = options.factories ?? {};

    const store = (await f.store?.(ctx)) ?? app.own('state', new MemoryStateStore({ layout: spec.layout, maxBytesPerCustomer: config.state.maxBytesPerCustomer, onBudgetExceeded: () => metrics.stateBudgetExceeded.inc() }), (s) => s.close());
    const decoder = (await f.decoder?.(ctx)) ?? new ActivityCodec();
    ctx.decoder = decoder;
    const sinks = (await f.sinks?.(ctx)) ?? localSinks(config, app);
    const source = (await f.source?.(ctx)) ?? localSource(config, app, clock);
    app.onStop(() => source.stop());

    const http = config.http.enabled
      ? app.own('http', await startHttpServer({ host: config.http.host, port: config.http.port, registry: metrics.registry, lifecycle: () => ({ state: app.state, ready: app.ready }) }), (h) => h.close())
      : undefined;

    const drift = config.monitoring.enabled ? driftStage(config, spec, model.manifest, metrics, sinks, app) : undefined;
    const job = churnScoringTopology(
      {
        source,
        decoder,
        rules: { ...DEFAULT_VALIDATION_RULES, maxFutureMs: config.validation.maxFutureMs },
        store,
        spec,
        model: () => model,
        sinks,
        clock,
        metrics,
        ...(drift ? { drift } : {}),
        onRetry: (err, attempt) => {
          metrics.batchRetries.inc();
          logger.warn({ err, attempt }, 'batch failed with a retriable error; retrying');
        },
      },
      { allowedLatenessMs: config.engine.allowedLatenessMs, batch: config.engine.batch, maxInFlight: config.engine.maxInFlight, risk: config.engine.risk },
    );
    return {
      app,
      metrics,
      job,
      httpUrl: http?.url,
      run: (onBatch) => app.run(job, onBatch ? { onNext: onBatch } : {}),
    };
  } catch (err) {
    await app.abort(err);
    throw err;
  }
}

function driftStage(config: Readonly<ChurnflowConfig>, spec: CompiledSpec, manifest: ModelManifest, metrics: EngineMetrics, sinks: OutputSinks, app: App) {
  const sink = sinks.drift ?? app.own('drift-sink', createFileSink<DriftMetricRecord>(join(config.sinks.dir, 'drift.ndjson'), 'drift-metric'), (s) => s.close());
  const monitor = createDriftMonitor(config, spec, manifest, metrics);
  return { monitor, sink, sampleRate: config.monitoring.sampleRate };
}

function localSource(config: Readonly<ChurnflowConfig>, app: App, clock: Clock): RecordSource {
  if (config.source.kind === 'file') return app.own('source', createFileSource(config.source.file!, clock), (s) => s.close());
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
    const dead = app.own('dead-letter-sink', createFileSink<DeadLetterRecord>(join(config.sinks.dir, 'dead-letters.ndjson'), 'dead-letter'), (s) => s.close());
    return { risk, deadLetter: dead, late: dead };
  }
  throw new ChurnflowError('CF_CONFIG_INVALID', `sinks.kind '${config.sinks.kind}' needs the production edges (churnflow run)`);
}
