// The trainer's Python (training/.venv, created by training/setup-venv.sh) for cross-language checks.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export const TRAINING_DIR = resolve('training');
export const VENV_PYTHON = resolve('training/.venv/bin/python');

/** Runs `python -m churnflow_trainer ...` in the venv; fails loudly if the venv is missing. */
export function trainer(args: readonly string[]): string {
  if (!existsSync(VENV_PYTHON)) throw new Error(`${VENV_PYTHON} missing: run 'bash training/setup-venv.sh' (npm run test:all does)`);
  return execFileSync(VENV_PYTHON, ['-m', 'churnflow_trainer', ...args], { cwd: TRAINING_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs a Python snippet in the venv with a JSON argument on stdin; returns its stdout parsed as JSON. */
export function pythonJson<T>(code: string, input: unknown): T {
  if (!existsSync(VENV_PYTHON)) throw new Error(`${VENV_PYTHON} missing: run 'bash training/setup-venv.sh'`);
  const out = execFileSync(VENV_PYTHON, ['-c', code], { input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return JSON.parse(out) as T;
}
