// `churnflow backtest`: replays a period (a file, or the simulator) through the snapshot topology,
// scores every point-in-time row with each model bundle and writes report.json + report.html.
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { lastValueFrom } from 'rxjs';
import { backtestTopology } from '../../topologies/backtest.topology.js';
import { buildBacktestReport, type BacktestReport } from '../backtest/backtest-report.js';
import { checkCosts, type Costs } from '../backtest/business.js';
import type { ModelIdentity } from '../backtest/evaluate-model.js';
import { formatDate } from '../backtest/format-number.js';
import { reportJson } from '../backtest/report-json.js';
import { renderReportHtml } from '../backtest/report-html.js';
import { ChurnflowError } from '../errors.js';
import type { ScoringModel } from '../scoring/scoring-model.js';
import type { SimulatorOptions } from '../simulator/index.js';
import { readLabelFile } from '../sources/label-file.js';
import { createFileSink } from '../sinks/file-sink.js';
import type { DeadLetterRecord } from '../events/wire-types.js';
import { buildSpec } from '../compose/feature-spec.js';
import { buildModel, resolveModelDir } from '../compose/model.js';
import { buildOfflineReplay } from '../compose/offline-replay.js';
import { addSimulatorFlags, budgetLine, dateFlag, floatFlag, intFlag, simulatorOptionsFrom, type SimulatorFlags } from './common.js';
import { loadCommandConfig } from './command-config.js';

export interface ModelRef {
  readonly label?: string;
  readonly dir: string;
}

export interface BacktestRunOptions {
  readonly source: { readonly kind: 'file'; readonly path: string } | { readonly kind: 'simulator'; readonly options: SimulatorOptions };
  /** Config file: input mappings and declared kinds for the file, validation limits, event time, state budget, model registry (default: the defaults and CHURNFLOW_* env). */
  readonly config?: string;
  /** None: the version the registry's production alias (model.alias) points at. */
  readonly models: readonly ModelRef[];
  /** Default: features.spec of the config. */
  readonly spec?: string;
  /** Overrides engine.allowedLatenessMs. */
  readonly allowedLatenessMs?: number;
  /** Refused and too-late records go here (NDJSON). */
  readonly deadLetters?: string;
  readonly everyDays: number;
  readonly warmupDays: number;
  /** A labels file: score exactly its rows with its labels, instead of the grid and the spec's label. */
  readonly labels?: string;
  /** Reference 'now' for future-timestamp checks; default: end of the simulated period, or the wall clock. */
  readonly now?: number;
  readonly from: number | null;
  readonly to: number | null;
  /** Each cost not given comes from the first model's manifest. */
  readonly costs: Partial<Costs>;
  readonly gridStep: number;
  readonly outDir: string;
  readonly generatedAt: string | null;
}

export interface BacktestRunResult {
  readonly report: BacktestReport;
  readonly jsonPath: string;
  readonly htmlPath: string;
  /** Times a customer's state was cut to state.maxBytesPerCustomer during the replay. */
  readonly budgetCuts: number;
}

/** `label=dir` names a model; a bare dir is named by its folder, name@version for a registry bundle (made unique with #2, #3 …). */
export function parseModelRef(value: string): ModelRef {
  const m = /^([A-Za-z0-9][A-Za-z0-9_.@ -]*)=(.+)$/.exec(value);
  return m ? { label: m[1]!, dir: m[2]! } : { dir: value };
}

/** A registry bundle (<name>/<version>) is named name@version; any other folder by its name. */
function folderLabel(dir: string): string {
  const clean = dir.replace(/[\\/]+$/, '');
  const leaf = basename(clean) || clean;
  return /^\d+\.\d+\.\d+/.test(leaf) && basename(dirname(clean)) ? `${basename(dirname(clean))}@${leaf}` : leaf;
}

function uniqueLabels(refs: readonly ModelRef[]): string[] {
  const labels: string[] = [];
  for (const r of refs) {
    const base = r.label ?? folderLabel(r.dir);
    let label = base;
    for (let k = 2; labels.includes(label); k++) label = `${base} #${k}`;
    labels.push(label);
  }
  return labels;
}

function resolveCosts(given: Partial<Costs>, first: ScoringModel, firstLabel: string): { costs: Costs; source: string } {
  const m = first.manifest.decision.costs;
  const costs = { contactCost: given.contactCost ?? m.contact_cost, churnerLoss: given.churnerLoss ?? m.churner_loss, saveRate: given.saveRate ?? m.save_rate };
  checkCosts(costs);
  const fromFlags = [given.contactCost, given.churnerLoss, given.saveRate].filter((v) => v !== undefined).length;
  const source = fromFlags === 3 ? 'given on the command line' : fromFlags === 0 ? `from the manifest of ${firstLabel}` : `command line, the rest from the manifest of ${firstLabel}`;
  return { costs, source };
}

export async function runBacktest(o: BacktestRunOptions): Promise<BacktestRunResult> {
  if (o.from !== null && o.to !== null && o.from > o.to) throw new ChurnflowError('CF_INPUT_INVALID', `--from ${formatDate(o.from)} is after --to ${formatDate(o.to)}`);
  const config = loadCommandConfig(o);
  const spec = buildSpec(config, o.spec);
  // No --model: the registry's production alias, as every command that scores.
  const refs: readonly ModelRef[] = o.models.length > 0 ? o.models : [{ dir: await resolveModelDir(config) }];
  const labels = uniqueLabels(refs);
  const models: ScoringModel[] = [];
  const deadLetters = o.deadLetters ? createFileSink<DeadLetterRecord>(o.deadLetters, 'dead-letter') : undefined;
  try {
    // Load (and so check the spec hash of) every bundle before the replay: a refusal costs nothing.
    for (const ref of refs) models.push(await buildModel(config, spec, { modelOverride: ref.dir, explain: false }));
    const { costs, source: costsSource } = resolveCosts(o.costs, models[0]!, labels[0]!);
    const replay = buildOfflineReplay(config, spec, o.source.kind === 'file' ? o.source : { kind: 'simulator', options: o.source.options }, o.now !== undefined ? { now: o.now } : {});
    const labelFile = o.labels ? readLabelFile(o.labels) : undefined;
    const scored = await lastValueFrom(
      backtestTopology(
        { ...replay.edges, models, ...(deadLetters ? { deadLetters } : {}) },
        {
          allowedLatenessMs: replay.policy.allowedLatenessMs,
          batch: { maxSize: 1024, maxWaitMs: 20 },
          maxInFlight: 4096,
          schedule: labelFile ? { labels: labelFile } : { everyDays: o.everyDays, warmupDays: o.warmupDays },
          period: { from: o.from, to: o.to },
          scoreBatchSize: 4096,
        },
      ),
    );
    replay.finish();
    const identities: ModelIdentity[] = models.map((m, i) => ({
      label: labels[i]!,
      dir: refs[i]!.dir,
      name: m.manifest.name,
      version: m.manifest.version,
      featureSpecHash: m.manifest.feature_spec_hash,
      threshold: m.manifest.decision.threshold,
      trainerValidation: m.manifest.metrics.validation,
    }));
    const st = scored.stats;
    const report = buildBacktestReport({
      rows: scored.rows,
      labels: scored.labels,
      scores: scored.scores,
      models: identities,
      costs,
      costsSource,
      gridStep: o.gridStep,
      generatedAt: o.generatedAt,
      data: {
        source: o.source.kind === 'file' ? { kind: 'file', path: o.source.path } : { kind: 'simulator', ...o.source.options },
        featureSpec: { name: spec.spec.name, hash: spec.hash },
        horizonDays: spec.spec.label.horizonDays,
        period: { from: o.from === null ? null : formatDate(o.from), to: o.to === null ? null : formatDate(o.to) },
        observations: { everyDays: o.everyDays, warmupDays: o.warmupDays, ...(o.labels ? { labelsFile: o.labels } : {}) },
        replay: {
          records: st.records,
          applied: st.accepted,
          deadLettered: st.deadLetters,
          late: st.late,
          beforeSignup: st.beforeSignup,
          unlabelledRows: st.unlabelledRows,
          rowsOutsidePeriod: scored.outsidePeriod,
        },
      },
    });
    mkdirSync(o.outDir, { recursive: true });
    const jsonPath = join(o.outDir, 'report.json');
    const htmlPath = join(o.outDir, 'report.html');
    writeFileSync(jsonPath, reportJson(report));
    writeFileSync(htmlPath, renderReportHtml(report));
    return { report, jsonPath, htmlPath, budgetCuts: replay.budgetCuts() };
  } finally {
    for (const m of models) await m.close();
    await deadLetters?.close();
  }
}

interface BacktestFlags extends SimulatorFlags {
  input?: string;
  config?: string;
  model?: ModelRef[];
  spec?: string;
  from?: number;
  to?: number;
  contactCost?: number;
  churnerLoss?: number;
  saveRate?: number;
  gridStep: number;
  everyDays: number;
  warmupDays: number;
  allowedLatenessMs?: number;
  now?: number;
  labels?: string;
  deadLetters?: string;
  out: string;
  generatedAt?: number;
}

function collectModel(value: string, previous: ModelRef[] | undefined): ModelRef[] {
  const ref = parseModelRef(value);
  if (ref.dir.length === 0) throw new InvalidArgumentError('--model needs a bundle directory');
  return [...(previous ?? []), ref];
}

export function backtestCommand(): Command {
  const cmd = new Command('backtest').description('score a past period with one or more model bundles and write a readable report (report.html + report.json)');
  cmd
    .option('-i, --input <file>', 'history to replay (.ndjson, .csv or .avro); without it, the simulator generates it')
    .option('-c, --config <file>', 'config: input mappings and declared kinds for the file, validation limits, event time (engine.allowedLatenessMs, engine.watermark), state budget, model registry, features.spec')
    .option('-m, --model <[label=]dir>', "model bundle to evaluate (repeat to compare models side by side; default: the version the registry's production alias points at)", collectModel)
    .option('--spec <ref>', "feature spec: 'builtin:churn_default' or a JSON/YAML file (default: features.spec of the config)")
    .option('--from <date>', 'first observation date to evaluate (inclusive)', dateFlag)
    .option('--to <date>', 'last observation date to evaluate (inclusive)', dateFlag)
    .option('--contact-cost <n>', 'cost of contacting one customer (default: the first model manifest’s)', floatFlag('--contact-cost', Number.MIN_VALUE, 1e12))
    .option('--churner-loss <n>', 'value lost when a customer churns (default: the manifest’s)', floatFlag('--churner-loss', Number.MIN_VALUE, 1e12))
    .option('--save-rate <share>', 'share of contacted churners kept (default: the manifest’s)', floatFlag('--save-rate', Number.MIN_VALUE, 1))
    .option('--grid-step <step>', 'spacing of the threshold grid of the campaign table', floatFlag('--grid-step', 0.0001, 0.5), 0.01)
    .option('--every-days <n>', 'days between observation times', intFlag('--every-days', 1, 365), 7)
    .option('--warmup-days <n>', 'days of history before the first observation', intFlag('--warmup-days', 0, 3650), 30)
    .option('--allowed-lateness-ms <ms>', 'event-time allowed lateness (overrides engine.allowedLatenessMs; default 3600000)', intFlag('--allowed-lateness-ms', 0, 86_400_000))
    .option('--dead-letters <file>', 'write refused and too-late records here (NDJSON)')
    .option('--now <date>', "reference 'now' for future-timestamp checks (default: end of the simulated period, or the wall clock)", dateFlag)
    .option('--generated-at <time>', 'print this time in the report (default: none, so reruns give identical files)', dateFlag)
    .option('--labels <file>', 'score exactly the rows of this labels file (CSV or NDJSON: customer_id, observation_time, label, optional group) instead of the --every-days grid')
    .option('-o, --out <dir>', 'output directory', 'out/backtest');
  // A different default seed from the bundled model's training data (seed 7): out of sample by default.
  addSimulatorFlags(cmd, { customers: 3000, days: 180, seed: 99 });
  cmd.action(async (flags: BacktestFlags) => {
    const started = performance.now();
    const result = await runBacktest({
      source: flags.input ? { kind: 'file', path: flags.input } : { kind: 'simulator', options: simulatorOptionsFrom(flags) },
      ...(flags.config ? { config: flags.config } : {}),
      models: flags.model ?? [],
      ...(flags.spec !== undefined ? { spec: flags.spec } : {}),
      ...(flags.allowedLatenessMs !== undefined ? { allowedLatenessMs: flags.allowedLatenessMs } : {}),
      ...(flags.deadLetters ? { deadLetters: flags.deadLetters } : {}),
      everyDays: flags.everyDays,
      warmupDays: flags.warmupDays,
      ...(flags.labels ? { labels: flags.labels } : {}),
      ...(flags.now !== undefined ? { now: flags.now } : {}),
      from: flags.from ?? null,
      to: flags.to ?? null,
      costs: {
        ...(flags.contactCost !== undefined ? { contactCost: flags.contactCost } : {}),
        ...(flags.churnerLoss !== undefined ? { churnerLoss: flags.churnerLoss } : {}),
        ...(flags.saveRate !== undefined ? { saveRate: flags.saveRate } : {}),
      },
      gridStep: flags.gridStep,
      outDir: flags.out,
      generatedAt: flags.generatedAt === undefined ? null : new Date(flags.generatedAt).toISOString(),
    });
    const secs = (performance.now() - started) / 1000;
    process.stderr.write(
      [`backtest: ${result.report.models.length} model(s) on ${result.report.data.rows} rows in ${secs.toFixed(1)} s${budgetLine(result.budgetCuts)}`, ...result.report.summary.map((s) => `  ${s}`), `  → ${result.htmlPath}`, `  → ${result.jsonPath}`].join('\n') + '\n',
    );
  });
  return cmd;
}
