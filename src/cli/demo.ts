// `churnflow demo`: the whole engine on its embedded default — simulator → scoring topology (memory
// state, the bundled ONNX model) → risk events, dead letters and metrics — then a summary.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { loadConfig } from '../config/load-config.js';
import { createEngine } from '../engine.js';
import { ChurnflowError } from '../errors.js';
import { DAY_MS } from '../events/activity-event.js';
import { DriftTally } from '../monitoring/drift-tally.js';
import { RunTally } from '../monitoring/run-tally.js';
import { createFallbackScorer } from '../scoring/fallback-scorer.js';
import { modelRef } from '../scoring/scoring-ref.js';
import { buildDemoSummary } from './demo-summary.js';
import { addSimulatorFlags, commandLogger, floatFlag, intFlag, simulatorOptionsFrom, type SimulatorFlags } from './common.js';

interface DemoFlags extends SimulatorFlags {
  speed: number;
  out: string;
  model?: string;
  port: number;
  shadow?: boolean;
  canary?: number;
  experiment?: boolean;
  config?: string;
  show: number;
  quiet?: boolean;
  monitor?: boolean;
}

export function demoCommand(): Command {
  const cmd = new Command('demo').description('run the engine end to end on simulated customers (no services needed) and print a summary');
  addSimulatorFlags(cmd, { customers: 2000, days: 120 })
    .option('--speed <events/s>', 'replay speed in records per second (0: as fast as possible)', floatFlag('--speed', 0, 1e9), 0)
    .option('-o, --out <dir>', 'output folder: risk-events.ndjson, current-risk.ndjson, dead-letters.ndjson, summary.json', 'out/demo')
    .option('--model <dir>', 'score with this bundle (default: the registry\'s production alias, models/churn-gbdt)')
    .option('--shadow', 'the candidate alias scores beside production (shadow-risk-events.ndjson, agreement in the summary)')
    .option('--canary <share>', 'score this share of customers with the candidate alias', floatFlag('--canary', 0, 1))
    .option('--experiment', 'put each customer in a treatment or control arm (experiment_arm on risk events)')
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
  const fromFile = flags.config ? loadConfig({ file: flags.config }) : undefined;
  const config = loadConfig({
    ...(flags.config ? { file: flags.config } : {}),
    overrides: {
      source: { kind: 'simulator' },
      sinks: { kind: 'file', dir: flags.out },
      state: { kind: 'memory' },
      http: { port: flags.port },
      ...(flags.model ? { model: { dir: flags.model } } : {}),
      ...(flags.shadow || flags.canary !== undefined ? { model: { ...(flags.model ? { dir: flags.model } : {}), shadow: { enabled: flags.shadow === true }, canary: { share: flags.canary ?? 0 } } } : {}),
      ...(flags.experiment ? { experiment: { enabled: true } } : {}),
      // The simulator starts with empty history: no verdicts until the longest window (90 days) is
      // full, unless the config sets its own warm-up.
      ...(flags.monitor ? { monitoring: { enabled: true, options: { warmupDays: DEMO_MONITOR_WARMUP_DAYS, ...(fromFile?.monitoring.options ?? {}) } } } : {}),
    },
  });
  if (config.model.dir !== undefined && (config.model.shadow.enabled || config.model.canary.share > 0)) {
    throw new ChurnflowError('CF_CONFIG_INVALID', 'model.dir pins one bundle: --shadow and --canary need the registry (drop --model / model.dir)');
  }
  const logger = commandLogger(config);
  const sim = simulatorOptionsFrom(flags);
  mkdirSync(flags.out, { recursive: true });
  const driftTally = new DriftTally();
  // The engine's simulator source; the event-time policy judges future times against the simulated end.
  const engine = await createEngine(config, { logger, simulator: { options: sim, pacing: { eventsPerSecond: flags.speed } }, wrapDriftSink: (sink) => driftTally.wrap(sink) });
  engine.app.installSignalHandlers();
  const production = engine.models.get('production');
  const candidate = engine.models.get('candidate');
  const decision = production?.manifest.decision ?? config.fallback;
  const modelLine = production ? `model ${production.manifest.name}@${production.manifest.version}` : `fallback rules ${config.fallback.name}@${config.fallback.version} (no model could be loaded)`;
  const http = engine.httpUrl ? { url: engine.httpUrl } : undefined;

  const out = process.stdout;
  out.write(
    `churnflow demo: ${sim.customers} simulated customers over ${sim.days} days (seed ${sim.seed}), ${modelLine} ` +
      `(threshold ${decision.threshold.toFixed(3)})` +
      (candidate ? `; candidate ${candidate.manifest.version}${config.model.shadow.enabled ? ' in shadow' : ''}${config.model.canary.share > 0 ? ` on ${(config.model.canary.share * 100).toFixed(0)} % of customers` : ''}` : '') +
      (config.experiment.enabled ? `; experiment arms (treatment ${(config.experiment.treatmentShare * 100).toFixed(0)} %)` : '') +
      '\n' +
      (http ? `metrics: ${http.url}/metrics   health: ${http.url}/healthz   ready: ${http.url}/readyz\n` : '') +
      `outputs: ${flags.out}/risk-events.ndjson, ${flags.out}/current-risk.ndjson, ${flags.out}/dead-letters.ndjson${flags.monitor ? `, ${flags.out}/drift.ndjson` : ''}${config.model.shadow.enabled ? `, ${flags.out}/shadow-risk-events.ndjson` : ''}\n\n`,
  );

  const tally = new RunTally();
  const topBand = decision.bands[decision.bands.length - 1]!.name;
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

  const byScorer = new Map<string, number>();
  const byArm = new Map<string, number>();
  let shadowEvents = 0;
  let summaryText = '';
  try {
    await engine.run(
      (batch) => {
        tally.observe(batch);
        shadowEvents += batch.shadowEvents?.length ?? 0;
        for (const e of batch.riskEvents) {
          const who = `${e.scorer === 'fallback' ? 'fallback' : batch.canary && e.model_version === batch.canary.ref.version && e.model_version !== batch.model.version ? 'canary' : 'model'} ${e.model_version}`;
          byScorer.set(who, (byScorer.get(who) ?? 0) + 1);
          if (e.experiment_arm) byArm.set(e.experiment_arm, (byArm.get(e.experiment_arm) ?? 0) + 1);
          if (shown < flags.show && e.band === topBand && e.previous_band !== null && e.previous_band !== topBand) {
            shown++;
            const why = e.reasons.length ? `  why: ${e.reasons.map((r) => `${r.feature}=${r.value === null ? 'missing' : +r.value.toFixed(2)} (+${r.contribution.toFixed(2)})`).join(', ')}` : '';
            out.write(
              `  risk ▲ ${e.customer_id} ${e.previous_band.padEnd(6)} → ${e.band.padEnd(6)} score ${e.score.toFixed(3)}  ` +
                `(${new Date(e.event_time).toISOString().slice(0, 16)}, after ${e.trigger_event_id})${why}\n`,
            );
          }
        }
      },
      async () => {
        if (progress) clearInterval(progress);
        const now = engine.models.get('production');
        // The engine's own agreement figures (the ones behind its shadow metrics).
        const shadowNow = engine.shadowAgreement();
        const summary = await buildDemoSummary({
          tally,
          seconds: (performance.now() - started) / 1000,
          spec: engine.spec,
          scorer: now ? modelRef(now) : createFallbackScorer(config.fallback, engine.spec.columns).ref,
          store: engine.store,
          outDir: flags.out,
          byScorer,
          byArm,
          shadow: shadowNow ? { version: shadowNow.shadowVersion, events: shadowEvents, figures: shadowNow.figures } : undefined,
          drift: flags.monitor === true ? driftTally : undefined,
          driftTimeline: flags.monitor ? { verdictsFrom: sim.startTime + (config.monitoring.options['warmupDays'] ?? 0) * DAY_MS, injectedFrom: sim.drift ? sim.startTime + sim.drift.fromDay * DAY_MS : undefined } : undefined,
        });
        writeFileSync(join(flags.out, 'summary.json'), `${JSON.stringify(summary.json, null, 2)}\n`);
        summaryText = summary.text;
      },
    );
  } finally {
    if (progress) clearInterval(progress);
  }
  out.write(summaryText);
}
