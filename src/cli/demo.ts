// `churnflow demo`: the whole engine on its embedded default — simulator → scoring topology (memory
// state, the bundled ONNX model) → risk events, dead letters and metrics — then a summary.
import { BUNDLED_MODEL } from '../scoring/bundled-model.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { churnScoringTopology } from '../../topologies/churn-scoring.topology.js';
import { App } from '../app.js';
import { loadConfig } from '../config/load-config.js';
import { DAY_MS } from '../events/activity-event.js';
import { DEFAULT_VALIDATION_RULES } from '../events/validate-event.js';
import type { DeadLetterRecord, DriftMetricRecord, RiskEventRecord } from '../events/wire-types.js';
import { createDriftMonitor } from '../monitoring/create-drift-monitor.js';
import { DriftTally } from '../monitoring/drift-tally.js';
import { loadFeatureSpec } from '../features/load-spec.js';
import { RunTally } from '../monitoring/run-tally.js';
import { buildDemoSummary } from './demo-summary.js';
import { startHttpServer } from '../observability/http-server.js';
import { createLogger } from '../observability/logger.js';
import { createEngineMetrics } from '../observability/metrics.js';
import { loadScoringModel } from '../scoring/scoring-model.js';
import { decisionOptions, modelLoadOptions } from '../config/decision-options.js';
import { ActivityCodec } from '../serde/activity-codec.js';
import { createFileSink } from '../sinks/file-sink.js';
import { simulationEndTime } from '../simulator/index.js';
import { createSimulatorSource } from '../sources/simulator-source.js';
import { MemoryStateStore } from '../state/memory-store.js';
import { systemClock, type Clock } from '../time/clock.js';
import { addSimulatorFlags, floatFlag, intFlag, simulatorOptionsFrom, type SimulatorFlags } from './common.js';

interface DemoFlags extends SimulatorFlags {
  speed: number;
  out: string;
  model: string;
  port: number;
  config?: string;
  show: number;
  quiet?: boolean;
  monitor?: boolean;
}

export function demoCommand(): Command {
  const cmd = new Command('demo').description('run the engine end to end on simulated customers (no services needed) and print a summary');
  addSimulatorFlags(cmd, { customers: 2000, days: 120 })
    .option('--speed <events/s>', 'replay speed in records per second (0: as fast as possible)', floatFlag('--speed', 0, 1e9), 0)
    .option('-o, --out <dir>', 'output folder: risk-events.ndjson, dead-letters.ndjson, summary.json', 'out/demo')
    .option('--model <dir>', 'model bundle', BUNDLED_MODEL)
    .option('--port <port>', 'HTTP port for /metrics /healthz /readyz (0: any free port)', intFlag('--port', 0, 65535), 9464)
    .option('--config <file>', 'engine config (YAML/JSON); flags win over it')
    .option('--show <n>', 'print up to n risk events as they appear (customers moving into the top band)', intFlag('--show', 0, 1_000_000), 12)
    .option('--quiet', 'no progress lines')
    .option('--monitor', 'also run drift and performance monitoring (drift.ndjson, summary) after a 90-day warm-up; slower: a daily feature sample of every customer. Try --days 150 --drift-from-day 120');
  cmd.action(async (flags: DemoFlags) => runDemo(flags));
  // Demo defaults inject a little trouble so the dead-letter and late paths are visible.
  cmd.setOptionValueWithSource('badRate', 0.002, 'default');
  cmd.setOptionValueWithSource('lateRate', 0.002, 'default');
  return cmd;
}

/** The default spec's longest window: before it is full, simulated customers' features are incomplete. */
const DEMO_MONITOR_WARMUP_DAYS = 90;

async function runDemo(flags: DemoFlags): Promise<void> {
  const config = loadConfig({ ...(flags.config ? { file: flags.config } : {}), overrides: { model: { dir: flags.model }, http: { port: flags.port } } });
  const logger = createLogger({ level: config.log.level === 'info' ? 'warn' : config.log.level });
  const metrics = createEngineMetrics();
  const app = new App(logger, metrics);
  app.installSignalHandlers();
  app.starting();

  const sim = simulatorOptionsFrom(flags);
  const simEnd = simulationEndTime(sim);
  // Future-timestamp checks against the later of now and the simulated end: simulated history may lie ahead of today.
  const validationClock: Clock = { now: () => Math.max(systemClock.now(), simEnd) };
  const spec = loadFeatureSpec(config.features.spec, { allowedLatenessMs: config.engine.allowedLatenessMs });
  const model = app.own('model', await loadScoringModel(config.model.dir ?? BUNDLED_MODEL, spec, modelLoadOptions(config)), (m) => m.close());
  metrics.modelInfo.set({ model_name: model.manifest.name, model_version: model.manifest.version }, 1);
  const store = app.own('state', new MemoryStateStore({ layout: spec.layout, maxBytesPerCustomer: config.state.maxBytesPerCustomer, onBudgetExceeded: () => metrics.stateBudgetExceeded.inc() }), (s) => s.close());
  mkdirSync(flags.out, { recursive: true });
  const risk = app.own('risk-sink', createFileSink<RiskEventRecord>(join(flags.out, 'risk-events.ndjson'), 'risk-event'), (s) => s.close());
  const dead = app.own('dead-letter-sink', createFileSink<DeadLetterRecord>(join(flags.out, 'dead-letters.ndjson'), 'dead-letter'), (s) => s.close());
  const driftSink = app.own('drift-sink', createFileSink<DriftMetricRecord>(join(flags.out, 'drift.ndjson'), 'drift-metric'), (s) => s.close());
  const driftTally = new DriftTally();
  const drift = flags.monitor
    ? {
        // The simulator starts with empty history: no verdicts until the longest window (90 days) is full,
        // unless the config sets its own warm-up.
        monitor: createDriftMonitor({ ...config, monitoring: { ...config.monitoring, options: { warmupDays: DEMO_MONITOR_WARMUP_DAYS, ...config.monitoring.options } } }, spec, model.manifest, metrics),
        sink: driftTally.wrap(driftSink),
        sampleRate: config.monitoring.sampleRate,
      }
    : undefined;
  const source = app.own('source', createSimulatorSource(sim, systemClock, { eventsPerSecond: flags.speed }), (s) => s.close());
  app.onStop(() => source.stop());
  const http = config.http.enabled
    ? app.own('http', await startHttpServer({ host: config.http.host, port: config.http.port, registry: metrics.registry, lifecycle: () => ({ state: app.state, ready: app.ready }) }), (h) => h.close())
    : undefined;

  const out = process.stdout;
  out.write(
    `churnflow demo: ${sim.customers} simulated customers over ${sim.days} days (seed ${sim.seed}), model ${model.manifest.name}@${model.manifest.version} ` +
      `(threshold ${model.manifest.decision.threshold.toFixed(3)})\n` +
      (http ? `metrics: ${http.url}/metrics   health: ${http.url}/healthz   ready: ${http.url}/readyz\n` : '') +
      `outputs: ${flags.out}/risk-events.ndjson, ${flags.out}/dead-letters.ndjson${flags.monitor ? `, ${flags.out}/drift.ndjson` : ''}\n\n`,
  );

  const tally = new RunTally();
  const topBand = model.manifest.decision.bands[model.manifest.decision.bands.length - 1]!.name;
  let shown = 0;
  const started = performance.now();
  const progress = flags.quiet
    ? undefined
    : setInterval(() => {
        const secs = (performance.now() - started) / 1000;
        const sim = tally.lastEventTime ? new Date(tally.lastEventTime).toISOString().slice(0, 10) : '-';
        out.write(
          `  [${secs.toFixed(0).padStart(3)} s] sim day ${sim}  records ${tally.records}  (${Math.round(tally.records / secs)}/s)  risk events ${tally.riskEvents}  ` +
            `${topBand} ${tally.riskEventsByBand.get(topBand) ?? 0}  dead-lettered ${tally.deadLettered}  late ${tally.late}\n`,
        );
      }, 2000);

  const job = churnScoringTopology(
    {
      source,
      decoder: new ActivityCodec(),
      rules: { ...DEFAULT_VALIDATION_RULES, maxFutureMs: config.validation.maxFutureMs },
      store,
      spec,
      model: () => model,
      sinks: { risk, deadLetter: dead, late: dead },
      clock: systemClock,
      validationClock,
      metrics,
      ...(drift ? { drift } : {}),
    },
    { allowedLatenessMs: config.engine.allowedLatenessMs, batch: config.engine.batch, maxInFlight: config.engine.maxInFlight, risk: config.engine.risk, decision: decisionOptions(config) },
  );
  let summaryText = '';
  try {
    await app.run(job, {
      onNext: (batch) => {
        tally.observe(batch);
        for (const e of batch.riskEvents) {
          if (shown < flags.show && e.band === topBand && e.previous_band !== null && e.previous_band !== topBand) {
            shown++;
            out.write(
              `  risk ▲ ${e.customer_id} ${e.previous_band.padEnd(6)} → ${e.band.padEnd(6)} score ${e.score.toFixed(3)}  ` +
                `(${new Date(e.event_time).toISOString().slice(0, 16)}, after ${e.trigger_event_id})\n`,
            );
          }
        }
      },
      onDrained: async () => {
        if (progress) clearInterval(progress);
        const summary = await buildDemoSummary({ tally, seconds: (performance.now() - started) / 1000, spec, manifest: model.manifest, store, outDir: flags.out, drift: flags.monitor === true ? driftTally : undefined, driftTimeline: drift ? { verdictsFrom: sim.startTime + drift.monitor.options.warmupDays * DAY_MS, injectedFrom: sim.drift ? sim.startTime + sim.drift.fromDay * DAY_MS : undefined } : undefined });
        writeFileSync(join(flags.out, 'summary.json'), `${JSON.stringify(summary.json, null, 2)}\n`);
        summaryText = summary.text;
      },
    });
  } finally {
    if (progress) clearInterval(progress);
  }
  out.write(summaryText);
}
