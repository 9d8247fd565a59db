// `churnflow model list|inspect|register|promote|rollback`: the model registry (docs/model-registry.md).
// Bundles live at <registry>/<name>/<version>/; aliases (production, candidate) in the configured alias
// store (model.registry.aliasStore: a file next to the bundles, or Redis shared by every host).
// Exit codes: 0 done, 1 refused (promotion gate, rollback, invalid or conflicting bundle),
// 2 error (bad input, unknown model/version, config, store unreachable), 3 concurrent alias change (retry).
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import type { ChurnflowConfig } from '../config/config-schema.js';
import { loadConfig } from '../config/load-config.js';
import { ChurnflowError } from '../errors.js';
import { loadFeatureSpec } from '../features/load-spec.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { ALIAS_NAMES, isAliasName, type AliasChange, type AliasName, type AliasState } from '../registry/alias-store.js';
import { openModelRegistry, type ModelRegistry, type PromoteResult, type RollbackResult, type VersionDetails, type VersionSummary } from '../registry/model-registry.js';
import type { GateCheck } from '../registry/promotion-gate.js';
import { systemClock, type Clock } from '../time/clock.js';
import { runProcess, trainerPython } from './trainer-process.js';

export const EXIT_REFUSED = 1;
export const EXIT_ERROR = 2;
export const EXIT_CONFLICT = 3;

const REFUSALS = new Set(['CF_PROMOTION_REFUSED', 'CF_ROLLBACK_REFUSED', 'CF_MODEL_EXISTS', 'CF_MODEL_INVALID', 'CF_MODEL_SPEC_MISMATCH']);

/** Where the command writes and what it reads from the outside; tests replace it. */
export interface ModelIo {
  out(text: string): void;
  err(text: string): void;
  setExitCode(code: number): void;
  env: NodeJS.ProcessEnv;
  clock: Clock;
  /** Warnings (forced promotions); default: pino JSON on stderr at config log.level. */
  logger?: Logger;
}

const processIo: ModelIo = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  setExitCode: (code) => {
    process.exitCode = code;
  },
  env: process.env,
  clock: systemClock,
};

interface CommonFlags {
  config?: string;
  registry?: string;
  actor?: string;
  json?: boolean;
}

export function defaultActor(env: NodeJS.ProcessEnv): string {
  let user = env['USER'] ?? env['USERNAME'];
  if (!user) {
    try {
      user = userInfo().username;
    } catch {
      user = 'unknown';
    }
  }
  return `${user}@${hostname()}`;
}

/** `name`, `name@version` or `name:alias` (alias production|candidate). A bare name means production. */
export function parseModelRef(ref: string): { name: string; target: string } {
  const m = /^([^@:]+)(?:([@:])(.+))?$/.exec(ref);
  if (!m) throw new ChurnflowError('CF_INPUT_INVALID', `expected <name>, <name>@<version> or <name>:<alias>, got '${ref}'`);
  const [, name, sep, rest] = m;
  if (sep === ':' && !isAliasName(rest!)) throw new ChurnflowError('CF_INPUT_INVALID', `unknown alias '${rest}' in '${ref}': expected ${ALIAS_NAMES.join(' or ')}`);
  return { name: name!, target: rest ?? 'production' };
}

interface Context {
  config: Readonly<ChurnflowConfig>;
  registry: ModelRegistry;
  actor: string;
  logger: () => Logger;
}

/** Loads config, opens the registry, runs `fn`, maps errors to exit codes and closes the registry. */
async function withRegistry(flags: CommonFlags, io: ModelIo, fn: (ctx: Context) => Promise<void>): Promise<void> {
  let registry: ModelRegistry | undefined;
  try {
    const config = loadConfig({ ...(flags.config ? { file: flags.config } : {}), env: io.env });
    registry = openModelRegistry(config, { ...(flags.registry ? { registryDir: flags.registry } : {}), clock: io.clock, onConnectionError: () => {} });
    let logger = io.logger;
    await fn({
      config,
      registry,
      actor: flags.actor ?? defaultActor(io.env),
      logger: () => (logger ??= createLogger({ level: config.log.level, destination: process.stderr, name: 'churnflow-model' })),
    });
  } catch (err) {
    if (!(err instanceof ChurnflowError)) throw err;
    const code = REFUSALS.has(err.code) ? EXIT_REFUSED : err.code === 'CF_ALIAS_CONFLICT' ? EXIT_CONFLICT : EXIT_ERROR;
    if (flags.json) io.out(json({ ok: false, error: { code: err.code, message: err.message, retriable: err.retriable }, ...err.details }));
    else if (Array.isArray(err.details['checks'])) {
      const d = err.details;
      io.out(`promotion gate for ${String(d['name'])}@${String(d['version'])} → ${String(d['alias'])}: REFUSED\n${formatChecks(d['checks'] as GateCheck[])}`);
    }
    io.err(`churnflow: ${err.code}: ${err.message}\n`);
    io.setExitCode(code);
  } finally {
    await registry?.close();
  }
}

function addCommonFlags(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'config (model.registry.*, model.promotion.*, state.redis.* for the Redis alias store, features.spec); default: built-in defaults and CHURNFLOW_* env')
    .option('--registry <dir>', 'registry root (overrides model.registry.dir, default models/)')
    .option('--actor <who>', 'recorded in the alias history (default $USER@hostname)')
    .addOption(new Option('--json', 'print the result as JSON'));
}

export function modelCommand(io: ModelIo = processIo): Command {
  const cmd = new Command('model').description('model registry: list, inspect, register bundles; promote and roll back the production/candidate aliases');

  const list = addCommonFlags(new Command('list'))
    .description('versions of every model (or one) in semver order with creation time, feature spec, validation metrics, training range and aliases')
    .argument('[name]', 'only this model')
    .action((name: string | undefined, flags: CommonFlags) =>
      withRegistry(flags, io, async ({ registry, config }) => {
        const versions = await registry.list(name);
        const names = name === undefined ? [...new Set([...(await registry.names()), ...versions.map((v) => v.name)])].sort() : [name];
        const models = [];
        for (const n of names) {
          const state = await registry.aliases(n);
          models.push({ name: n, revision: state.revision, aliases: state.aliases, versions: versions.filter((v) => v.name === n) });
        }
        if (flags.json) io.out(json({ registry: registry.root, aliasStore: config.model.registry.aliasStore, models }));
        else io.out(formatList(registry.root, config.model.registry.aliasStore, models));
      }),
    );

  const inspect = addCommonFlags(new Command('inspect'))
    .description('one version in full: manifest summary, metrics, training data, lineage, files, alias history')
    .argument('<ref>', '<name>@<version>, <name>:<alias> (production|candidate), or <name> (= its production version)')
    .action((ref: string, flags: CommonFlags) =>
      withRegistry(flags, io, async ({ registry }) => {
        const { name, target } = parseModelRef(ref);
        const details = await registry.inspect(name, target);
        io.out(flags.json ? json(inspectJson(details)) : formatInspect(details));
      }),
    );

  const register = addCommonFlags(new Command('register'))
    .description('validate a bundle (manifest.json, model.onnx) and copy it to <registry>/<name>/<version>/; a version already registered with other content is refused')
    .argument('[bundle-dir]', 'directory with manifest.json and model.onnx')
    .option('--mlflow-run <run-id>', 'instead of a directory: the bundle artefact of a tracked `churnflow train` run (registered under its manifest\'s name and version)')
    .option('--tracking-uri <uri>', 'with --mlflow-run: the MLflow store (default $MLFLOW_TRACKING_URI, else training/mlruns/mlflow.db)')
    .action((dir: string | undefined, flags: CommonFlags & { mlflowRun?: string; trackingUri?: string }) =>
      withRegistry(flags, io, async ({ registry, actor }) => {
        if ((dir === undefined) === (flags.mlflowRun === undefined)) throw new ChurnflowError('CF_INPUT_INVALID', 'give either <bundle-dir> or --mlflow-run <run-id>');
        if (flags.trackingUri !== undefined && flags.mlflowRun === undefined) throw new ChurnflowError('CF_INPUT_INVALID', '--tracking-uri goes with --mlflow-run');
        const r = flags.mlflowRun === undefined ? await registry.register(dir!, { actor }) : await registerTrackedRun(registry, flags.mlflowRun, flags.trackingUri, actor);
        if (flags.json) io.out(json({ ok: true, ...r }));
        else io.out(r.outcome === 'registered' ? `registered ${r.name}@${r.version} → ${r.dir}\n` : `${r.name}@${r.version} is already registered with identical content (${r.dir}); nothing to do\n`);
      }),
    );

  const promote = addCommonFlags(new Command('promote'))
    .description('run the promotion gate (feature spec, reference outputs on onnxruntime-node, metrics vs production) and point an alias at the version')
    .argument('<name>', 'model name')
    .argument('<version>', 'registered version')
    .addOption(new Option('--alias <alias>', 'alias to move').choices([...ALIAS_NAMES]).default('production'))
    .option('--force', 'promote even if gate checks fail (recorded as forced in the history, logged as a warning)')
    .option('--reason <text>', 'why (recorded in the history)', '')
    .action((name: string, version: string, flags: CommonFlags & { alias: AliasName; force?: boolean; reason: string }) =>
      withRegistry(flags, io, async ({ registry, config, actor, logger }) => {
        const spec = loadFeatureSpec(config.features.spec, { allowedLatenessMs: config.engine.allowedLatenessMs });
        const r = await registry.promote(name, version, {
          alias: flags.alias,
          force: flags.force === true,
          reason: flags.reason,
          actor,
          gate: { spec, policy: config.model.promotion, intraOpThreads: config.model.intraOpThreads },
        });
        if (r.forced) {
          logger().warn(
            { model: name, version, alias: r.alias, previous: r.previous, actor, reason: flags.reason, failed: r.gate.checks.filter((c) => !c.ok), revision: r.state.revision },
            'model promoted with --force past failed promotion checks',
          );
        }
        io.out(flags.json ? json({ ok: true, ...promoteJson(r) }) : formatPromote(r));
      }),
    );

  const rollback = addCommonFlags(new Command('rollback'))
    .description('point production back at the version it had before the current one (a second rollback goes further back)')
    .argument('<name>', 'model name')
    .requiredOption('--reason <text>', 'why (recorded in the history)')
    .option('--force', 'roll back even to a version trained on another feature spec than the configured one')
    .action((name: string, flags: CommonFlags & { reason: string; force?: boolean }) =>
      withRegistry(flags, io, async ({ registry, config, actor, logger }) => {
        const spec = loadFeatureSpec(config.features.spec, { allowedLatenessMs: config.engine.allowedLatenessMs });
        const r = await registry.rollback(name, { reason: flags.reason, actor, spec, force: flags.force === true });
        if (r.forced) logger().warn({ model: name, from: r.from, to: r.to, actor, reason: flags.reason }, 'model rolled back with --force to a version trained on another feature spec');
        io.out(flags.json ? json({ ok: true, ...rollbackJson(r) }) : `rolled back ${r.name} production ${r.from} → ${r.to} (revision ${r.state.revision})${r.forced ? ' [FORCED]' : ''}\n`);
      }),
    );

  return cmd
    .addCommand(list)
    .addCommand(inspect)
    .addCommand(register)
    .addCommand(promote)
    .addCommand(rollback)
    .addHelpText('after', '\nExit codes: 0 done, 1 refused (gate, rollback, bundle), 2 error, 3 aliases changed concurrently (run again).');
}

/** Copies a tracked run's bundle artefact out of MLflow (through the trainer's Python: any MLflow store
 *  works, not only local files) into a scratch directory and registers it from there. */
async function registerTrackedRun(registry: ModelRegistry, runId: string, trackingUri: string | undefined, actor: string) {
  if (!/^[0-9a-f]{32}$/.test(runId)) throw new ChurnflowError('CF_INPUT_INVALID', `--mlflow-run: expected a 32-character hex MLflow run id, got '${runId}'`);
  const { python, training } = await trainerPython();
  const scratch = mkdtempSync(join(tmpdir(), 'cf-mlflow-run-'));
  try {
    const args = ['-m', 'churnflow_trainer', 'fetch-run', '--run-id', runId, '--out', scratch, ...(trackingUri ? ['--tracking-uri', trackingUri] : [])];
    const bundle = (await runProcess(python, args, training).catch((err: unknown) => {
      throw new ChurnflowError('CF_INPUT_INVALID', `cannot fetch the bundle of MLflow run ${runId}: ${err instanceof Error ? err.message : String(err)}`);
    })).trim().split('\n').pop()!;
    return await registry.register(bundle, { actor });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- output

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[], indent = ''): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => `${indent}${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}`.trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

function metric(v: unknown): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(4) : '-';
}

function day(ms: number | null | undefined): string {
  return typeof ms === 'number' ? new Date(ms).toISOString().slice(0, 10) : '?';
}

function shortHash(h: string | null): string {
  return h ? h.replace(/^sha256:/, '').slice(0, 12) : '-';
}

function trainingText(v: VersionSummary): string {
  if (!v.training) return '-';
  const rows = v.training.rows === null ? '' : ` (${v.training.rows} rows)`;
  return `${day(v.training.from)}..${day(v.training.to)}${rows}`;
}

interface ModelListing {
  name: string;
  revision: number;
  aliases: AliasState['aliases'];
  versions: VersionSummary[];
}

export function formatList(root: string, aliasStore: string, models: readonly ModelListing[]): string {
  if (models.length === 0) return `registry ${root} (alias store: ${aliasStore}): no models\n`;
  const parts = [`registry ${root} (alias store: ${aliasStore})\n`];
  for (const m of models) {
    const aliases = ALIAS_NAMES.filter((a) => m.aliases[a]).map((a) => `${a} → ${m.aliases[a]}`);
    parts.push(`\n${m.name}  (${aliases.length ? aliases.join(', ') : 'no aliases'}; alias revision ${m.revision})\n`);
    const rows = m.versions.map((v) =>
      v.problem
        ? [v.version, v.aliases.join(','), '-', '-', '-', '-', '-', `PROBLEM: ${v.problem}`]
        : [v.version, v.aliases.join(','), v.createdAt ?? '-', shortHash(v.featureSpecHash), metric(v.validation?.['roc_auc']), metric(v.validation?.['pr_auc']), metric(v.validation?.['recall']), trainingText(v)],
    );
    parts.push(rows.length ? table(['VERSION', 'ALIASES', 'CREATED', 'SPEC', 'ROC_AUC', 'PR_AUC', 'RECALL', 'TRAINED ON'], rows, '  ') : '  (no versions)\n');
  }
  return parts.join('');
}

function historyRows(history: readonly AliasChange[]): string[][] {
  return history.map((h) => [
    String(h.revision),
    new Date(h.at).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    h.alias,
    h.action + (h.forced ? ' [FORCED]' : ''),
    `${h.from ?? '-'} → ${h.to ?? '-'}`,
    h.actor,
    h.reason,
  ]);
}

function inspectJson(d: VersionDetails): Record<string, unknown> {
  const { reference, reference_outputs, ...manifest } = d.manifest;
  return {
    ...d.summary,
    via: d.via,
    manifest: {
      ...manifest,
      reference: { features: Object.keys(reference.features).length, positive_rate: reference.positive_rate ?? null },
      reference_outputs: reference_outputs ? { rows: reference_outputs.rows.length } : null,
    },
    files: d.files,
    history: d.history,
  };
}

export function formatInspect(d: VersionDetails): string {
  const s = d.summary;
  const m = d.manifest;
  const td = m.training_data as Record<string, unknown>;
  const lineage = (m['lineage'] ?? {}) as Record<string, unknown>;
  const lines = [
    `${s.name}@${s.version}${d.via ? `  (${d.via})` : ''}`,
    `  dir             ${s.dir}`,
    `  aliases         ${s.aliases.length ? s.aliases.join(', ') : '-'}`,
    `  created         ${m.created_at}`,
    `  feature spec    ${m.feature_spec_hash}`,
    `  inputs          ${m.features.length} features, ${m.input_columns.length} input columns`,
    `  threshold       ${m.decision.threshold}  bands ${m.decision.bands.map((b) => `${b.name}≥${b.min_score.toFixed(4)}`).join(' ')}`,
    `  training data   ${trainingText(s)}${typeof td['positives'] === 'number' ? `, ${td['positives']} positives` : ''}${td['snapshot'] ? `, snapshot ${String(td['snapshot'])}` : ''}`,
    `  reference rows  ${m.reference_outputs ? m.reference_outputs.rows.length : 'none (the promotion gate will refuse it)'}`,
    `  lineage         ${['trainer', 'trainer_version', 'git_commit', 'lightgbm', 'onnxruntime'].filter((k) => lineage[k] !== undefined).map((k) => `${k} ${String(lineage[k])}`).join(', ') || '-'}`,
    '',
    '  metrics',
  ];
  const metrics = m.metrics as Record<string, unknown>;
  const keys = ['roc_auc', 'pr_auc', 'recall', 'precision', 'f1', 'brier', 'rows', 'positives', 'net_value'];
  const rows = Object.entries(metrics)
    .filter(([, v]) => v && typeof v === 'object')
    .map(([split, v]) => [split, ...keys.map((k) => ((v as Record<string, unknown>)[k] === undefined ? '-' : Number.isInteger((v as Record<string, unknown>)[k]) ? String((v as Record<string, unknown>)[k]) : metric((v as Record<string, unknown>)[k])))]);
  let out = `${lines.join('\n')}\n${table(['SPLIT', ...keys.map((k) => k.toUpperCase())], rows, '    ')}`;
  out += `\n  files\n${table(['FILE', 'BYTES', 'SHA256'], d.files.map((f) => [f.path, String(f.bytes), f.sha256]), '    ')}`;
  out += d.history.length ? `\n  alias history\n${table(['REV', 'AT', 'ALIAS', 'ACTION', 'CHANGE', 'ACTOR', 'REASON'], historyRows(d.history), '    ')}` : '\n  alias history   none\n';
  return out;
}

export function formatChecks(checks: readonly GateCheck[]): string {
  return table(['', 'CHECK', 'DETAIL'], checks.map((c) => [c.ok ? 'ok' : 'FAIL', c.name, c.detail]), '  ');
}

function promoteJson(r: PromoteResult): Record<string, unknown> {
  return { name: r.name, version: r.version, alias: r.alias, previous: r.previous, unchanged: r.unchanged, forced: r.forced, gate: r.gate, revision: r.state.revision, aliases: r.state.aliases };
}

function rollbackJson(r: RollbackResult): Record<string, unknown> {
  return { name: r.name, from: r.from, to: r.to, forced: r.forced, revision: r.state.revision, aliases: r.state.aliases };
}

export function formatPromote(r: PromoteResult): string {
  if (r.unchanged) return `${r.alias} of ${r.name} already points at ${r.version}; nothing to do\n`;
  const head = `promotion gate for ${r.name}@${r.version} → ${r.alias}${r.previous ? ` (now ${r.previous})` : ''}\n`;
  const tail = r.forced
    ? `FORCED: promoted ${r.name}@${r.version} to ${r.alias} despite ${r.gate.checks.filter((c) => !c.ok).length} failed check(s) (revision ${r.state.revision})\n`
    : `promoted ${r.name}@${r.version} to ${r.alias}${r.previous ? ` (was ${r.previous})` : ''} (revision ${r.state.revision})\n`;
  return `${head}${formatChecks(r.gate.checks)}${tail}`;
}
