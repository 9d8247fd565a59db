// The Python trainer (training/churnflow_trainer) as a child process: where it is, its venv
// (training/setup-venv.sh, idempotent), and running it with its progress on our stderr.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChurnflowError } from '../errors.js';

/** The repository's training/ folder (dist/src/cli → ../../../training). */
export function trainingDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'training');
}

/** Runs a command with stderr passed through; resolves with its stdout. */
export function runProcess(cmd: string, args: readonly string[], cwd: string): Promise<string> {
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

/** The trainer's Python (creating or refreshing training/.venv first). */
export async function trainerPython(): Promise<{ python: string; training: string }> {
  const training = trainingDir();
  if (!existsSync(join(training, 'churnflow_trainer'))) {
    throw new ChurnflowError('CF_INPUT_INVALID', `the Python trainer is not at ${training} (run this from a checkout of the repository)`);
  }
  process.stderr.write(`churnflow: Python environment (training/.venv)\n`);
  const python = (await runProcess('bash', [join(training, 'setup-venv.sh')], training)).trim().split('\n').pop()!;
  return { python, training };
}
