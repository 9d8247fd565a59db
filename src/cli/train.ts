// `churnflow train`: a snapshot → a registered model bundle. Sets up the trainer's Python environment
// (training/setup-venv.sh: idempotent, reinstalls only when requirements change), runs the LightGBM
// trainer (training/churnflow_trainer), registers the bundle and prints its validation metrics.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { loadConfig } from '../config/load-config.js';
import { ChurnflowError } from '../errors.js';
import { openModelRegistry } from '../registry/model-registry.js';
import { compareModelVersions } from '../registry/model-version.js';
import { floatFlag, intFlag } from './common.js';

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
}

/** The repository's training/ folder (dist/src/cli → ../../../training). */
export function trainingDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'training');
}

/** Runs a command with stderr passed through; resolves with its stdout. */
function run(cmd: string, args: readonly string[], cwd: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    child.on('error', (err) => reject(new ChurnflowError('CF_INPUT_INVALID', `cannot run ${cmd}: ${err.message}`)));
    child.on('close', (code) =>
      code === 0 ? resolvePromise(out) : reject(new ChurnflowError('CF_INPUT_INVALID', `${cmd} ${args.slice(0, 3).join(' ')} … exited with ${code} (its messages are above)`)),
    );
  });
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
    .option('--seed <n>', 'LightGBM and group-assignment seed', intFlag('--seed', 0, 2 ** 31 - 1), 7)
    .option('--no-register', 'only train (into --out)')
    .option('-o, --out <dir>', 'bundle directory (default: a temporary one, removed after registering)');
  cmd.action(async (flags: TrainFlags) => {
    const training = trainingDir();
    if (!existsSync(join(training, 'churnflow_trainer'))) {
      throw new ChurnflowError('CF_INPUT_INVALID', `the Python trainer is not at ${training} (run churnflow train from a checkout of the repository)`);
    }
    if (!flags.register && !flags.out) throw new ChurnflowError('CF_INPUT_INVALID', '--no-register needs --out (where the bundle goes)');
    const config = loadConfig({ ...(flags.config ? { file: flags.config } : {}) });
    const registry = openModelRegistry(config, { ...(flags.registry ? { registryDir: flags.registry } : {}), onConnectionError: () => {} });
    const tmp = flags.out ? undefined : mkdtempSync(join(tmpdir(), 'cf-train-'));
    try {
      // list() of every model: list(name) refuses a name the registry does not know yet (a first training).
      const version = flags.modelVersion ?? nextVersion((await registry.list()).filter((v) => v.name === flags.name && v.problem === null).map((v) => v.version));
      const out = resolve(flags.out ?? join(tmp!, 'bundle'));
      process.stderr.write(`train: Python environment (training/.venv)\n`);
      const python = (await run('bash', [join(training, 'setup-venv.sh')], training)).trim().split('\n').pop()!;
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
      ];
      process.stderr.write(`train: ${flags.name}@${version} from ${flags.snapshot}\n`);
      await run(python, args, training);
      const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { metrics: { validation: Record<string, number> }; decision: { threshold: number } };
      const v = manifest.metrics.validation;
      const lines = [
        `validation: ROC-AUC ${v['roc_auc']!.toFixed(4)}  PR-AUC ${v['pr_auc']!.toFixed(4)}  threshold ${manifest.decision.threshold.toFixed(4)}  recall ${v['recall']!.toFixed(3)}  precision ${v['precision']!.toFixed(3)}  rows ${v['rows']}`,
      ];
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
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    }
  });
  return cmd;
}
