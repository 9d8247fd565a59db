// `churnflow train`: a snapshot → a registered model bundle. Sets up the trainer's Python environment
// (training/setup-venv.sh: idempotent, reinstalls only when requirements change), runs the LightGBM
// trainer (training/churnflow_trainer; with --trials an Optuna search first), registers the bundle and
// prints its validation metrics and the MLflow run that tracked it.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { loadConfig } from '../config/load-config.js';
import { ChurnflowError } from '../errors.js';
import { openModelRegistry } from '../registry/model-registry.js';
import { compareModelVersions } from '../registry/model-version.js';
import { floatFlag, intFlag } from './common.js';
import { runProcess as run, trainerPython } from './trainer-process.js';

export { trainingDir } from './trainer-process.js';

interface TrainFlags {
  snapshot: string;
  name: string;
  modelVersion?: string;
  config?: string;
  registry?: string;
  split: 'time' | 'group' | 'column';
  groupColumn?: string;
  splitColumn?: string;
  validationShare?: number;
  earlyStoppingShare?: number;
  purgeDays?: number;
  refit: boolean;
  seed: number;
  register: boolean;
  out?: string;
  trials: number;
  timeoutS?: number;
  track: boolean;
  trackingUri?: string;
}

/** Next patch version after the highest registered one (1.0.0 for a new name). */
function nextVersion(versions: readonly string[]): string {
  const sorted = [...versions].sort(compareModelVersions);
  const last = sorted[sorted.length - 1];
  if (!last) return '1.0.0';
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(last)!;
  return `${m[1]}.${m[2]}.${Number(m[3]) + 1}`;
}

export function trainCommand(): Command {
  const cmd = new Command('train')
    .description('train a LightGBM model on a snapshot (sets up the Python environment), register the bundle and print its validation metrics')
    .requiredOption('--snapshot <file>', 'the snapshot Parquet file (its .meta.json beside it), from `churnflow snapshot`')
    .option('--name <name>', 'model name in the registry', 'churn-gbdt')
    .option('--model-version <semver>', 'version to register (default: the next patch version of the name)')
    .option('-c, --config <file>', 'config (model.registry.*); default: built-in defaults and CHURNFLOW_* env')
    .option('--registry <dir>', 'registry root (overrides model.registry.dir, default models/)')
    .addOption(new Option('--split <how>', 'time: latest dates validate; group: whole groups are held out; column: the snapshot says per row').choices(['time', 'group', 'column']).default('time'))
    .option('--group-column <col>', 'split=group: column whose values are held out whole (group, customer_id, …)')
    .option('--split-column <col>', 'split=column: column with train / early_stopping / validation')
    .option('--validation-share <share>', 'share of dates (time) or groups (group) held out for validation', floatFlag('--validation-share', 0.01, 0.9))
    .option('--early-stopping-share <share>', 'share of the rest held out to pick the iteration count', floatFlag('--early-stopping-share', 0.01, 0.9))
    .option('--purge-days <days>', 'time split: gap before validation (default: the label horizon)', floatFlag('--purge-days', 0, 3650))
    .option('--no-refit', 'keep the early-stopping rows out of training')
    .option('--seed <n>', 'LightGBM, group-assignment and search (TPE sampler) seed', intFlag('--seed', 0, 2 ** 31 - 1), 7)
    .option('--trials <n>', 'Optuna search over the LightGBM parameters with this many trials first (0: no search)', intFlag('--trials', 0, 100_000), 0)
    .option('--timeout-s <seconds>', 'search time budget (the trial count then depends on machine speed; --trials alone is reproducible)', floatFlag('--timeout-s', 1, 7 * 86_400))
    .option('--tracking-uri <uri>', 'MLflow store (default $MLFLOW_TRACKING_URI, else training/mlruns/mlflow.db)')
    .option('--no-track', 'do not record the run in MLflow')
    .option('--no-register', 'only train (into --out)')
    .option('-o, --out <dir>', 'bundle directory (default: a temporary one, removed after registering)');
  cmd.action(async (flags: TrainFlags) => {
    if (flags.timeoutS !== undefined && flags.trials === 0) throw new ChurnflowError('CF_INPUT_INVALID', '--timeout-s limits the search: give --trials <n> as well');
    if (!flags.register && !flags.out) throw new ChurnflowError('CF_INPUT_INVALID', '--no-register needs --out (where the bundle goes)');
    const config = loadConfig({ ...(flags.config ? { file: flags.config } : {}) });
    const registry = openModelRegistry(config, { ...(flags.registry ? { registryDir: flags.registry } : {}), onConnectionError: () => {} });
    // Scratch: the run-info file, and the bundle itself unless --out keeps it.
    const tmp = mkdtempSync(join(tmpdir(), 'cf-train-'));
    try {
      // list() of every model: list(name) refuses a name the registry does not know yet (a first training).
      const version = flags.modelVersion ?? nextVersion((await registry.list()).filter((v) => v.name === flags.name && v.problem === null).map((v) => v.version));
      const out = resolve(flags.out ?? join(tmp, 'bundle'));
      const { python, training } = await trainerPython();
      const runInfo = join(tmp, 'run.json');
      const args = [
        '-m', 'churnflow_trainer', 'train',
        '--snapshot', resolve(flags.snapshot),
        '--out', out,
        '--name', flags.name,
        '--version', version,
        '--seed', String(flags.seed),
        '--split', flags.split,
        ...(flags.groupColumn ? ['--group-column', flags.groupColumn] : []),
        ...(flags.splitColumn ? ['--split-column', flags.splitColumn] : []),
        ...(flags.validationShare !== undefined ? ['--validation-share', String(flags.validationShare)] : []),
        ...(flags.earlyStoppingShare !== undefined ? ['--early-stopping-share', String(flags.earlyStoppingShare)] : []),
        ...(flags.purgeDays !== undefined ? ['--purge-days', String(flags.purgeDays)] : []),
        ...(flags.refit ? [] : ['--no-refit']),
        ...(flags.trials > 0 ? ['--trials', String(flags.trials)] : []),
        ...(flags.timeoutS !== undefined ? ['--timeout-s', String(flags.timeoutS)] : []),
        ...(flags.track ? ['--run-info', runInfo, ...(flags.trackingUri ? ['--tracking-uri', flags.trackingUri] : [])] : ['--no-track']),
      ];
      process.stderr.write(`train: ${flags.name}@${version} from ${flags.snapshot}\n`);
      await run(python, args, training);
      const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { metrics: { validation: Record<string, number> }; decision: { threshold: number } };
      const v = manifest.metrics.validation;
      const lines = [
        `validation: ROC-AUC ${v['roc_auc']!.toFixed(4)}  PR-AUC ${v['pr_auc']!.toFixed(4)}  threshold ${manifest.decision.threshold.toFixed(4)}  recall ${v['recall']!.toFixed(3)}  precision ${v['precision']!.toFixed(3)}  rows ${v['rows']}`,
      ];
      if (flags.track && existsSync(runInfo)) {
        const info = JSON.parse(readFileSync(runInfo, 'utf8')) as { run_id: string; tracking_uri: string };
        lines.push(`mlflow run: ${info.run_id} (${info.tracking_uri})`);
      }
      if (flags.register) {
        const r = await registry.register(out, { actor: 'churnflow train' });
        lines.push(r.outcome === 'registered' ? `registered ${r.name}@${r.version} → ${r.dir}` : `${r.name}@${r.version} was already registered with identical content (${r.dir})`);
        lines.push(`promote it with: churnflow model promote ${r.name} ${r.version} --alias candidate (or production)`);
      } else {
        lines.push(`bundle → ${out} (not registered)`);
      }
      process.stdout.write(lines.join('\n') + '\n');
    } finally {
      await registry.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  });
  return cmd;
}
