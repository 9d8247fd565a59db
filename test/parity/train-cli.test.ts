// `churnflow train` end to end: a snapshot with a labels file (groups) → the Python trainer (venv set
// up by the command) → a registered bundle the engine can load, and validation metrics printed; a
// seeded search tracked in MLflow, then `model register --mlflow-run` taking the bundle from that run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DAY_MS } from '../../src/events/activity-event.js';

const BIN = resolve('bin/churnflow.js');
const work = mkdtempSync(join(tmpdir(), 'cf-train-cli-'));
// Every trainer run is tracked: keep this file's runs out of training/mlruns.
process.env['MLFLOW_TRACKING_URI'] = `sqlite:///${join(work, 'default-mlruns', 'mlflow.db')}`;
const cli = (args: readonly string[]) => execFileSync(process.execPath, [BIN, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });

test('snapshot → train → registered bundle with validation metrics, on a group split', () => {
  const events = join(work, 'events.ndjson');
  cli(['simulate', '--customers', '900', '--days', '150', '--seed', '31', '-o', events]);
  // A grid snapshot first, then the same rows as a labels file with a group per customer cohort.
  const grid = join(work, 'grid.parquet');
  cli(['snapshot', '-i', events, '-o', grid, '--every-days', '7', '--warmup-days', '30', '--now', '2026-01-01']);
  const meta = JSON.parse(readFileSync(join(work, 'grid.meta.json'), 'utf8')) as { rows: number; observation: { first: number; last: number } };
  assert.ok(meta.rows > 3000, `grid rows ${meta.rows}`);

  const ids = [...new Set(readFileSync(events, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { customer_id: string }).customer_id))].sort();
  const lines = ['customer_id,observation_time,label,group'];
  const t = meta.observation.first + 21 * DAY_MS;
  ids.forEach((c, i) => lines.push(`${c},${new Date(t).toISOString().slice(0, 10)},${i % 7 === 0 ? 1 : 0},cohort${i % 10}`));
  const labels = join(work, 'labels.csv');
  writeFileSync(labels, lines.join('\n') + '\n');
  const listed = join(work, 'listed.parquet');
  cli(['snapshot', '-i', events, '-o', listed, '--labels', labels, '--now', '2026-01-01']);

  const registry = join(work, 'registry');
  const out = cli(['train', '--snapshot', grid, '--registry', registry, '--name', 'churn-test', '--seed', '3']);
  assert.match(out, /validation: ROC-AUC 0\.\d{4} {2}PR-AUC 0\.\d{4}/);
  assert.match(out, /registered churn-test@1\.0\.0/);
  assert.ok(existsSync(join(registry, 'churn-test', '1.0.0', 'model.onnx')));
  const auc = Number(/ROC-AUC (0\.\d+)/.exec(out)![1]);
  assert.ok(auc > 0.7, `ROC-AUC ${auc} on the simulator`);

  // The next run registers the next patch version; a group split on the labels file's cohorts.
  const out2 = cli(['train', '--snapshot', listed, '--registry', registry, '--name', 'churn-test', '--split', 'group', '--group-column', 'group']);
  assert.match(out2, /registered churn-test@1\.0\.1/);
  const manifest = JSON.parse(readFileSync(join(registry, 'churn-test', '1.0.1', 'manifest.json'), 'utf8')) as { training_data: { split: { method: string; groups: { total: number } } } };
  assert.match(manifest.training_data.split.method, /^group/);
  assert.equal(manifest.training_data.split.groups.total, 10);
});

test('train --trials: a seeded search tracked in MLflow; model register --mlflow-run registers that run\'s bundle', () => {
  const events = join(work, 'search-events.ndjson');
  cli(['simulate', '--customers', '600', '--days', '120', '--seed', '41', '-o', events]);
  const snap = join(work, 'search.parquet');
  cli(['snapshot', '-i', events, '-o', snap, '--every-days', '7', '--warmup-days', '30', '--now', '2026-01-01']);
  const store = `sqlite:///${join(work, 'mlruns', 'mlflow.db')}`;
  const kept = join(work, 'search-bundle');
  const out = cli(['train', '--snapshot', snap, '--no-register', '--out', kept, '--name', 'churn-search', '--model-version', '2.0.0', '--trials', '3', '--seed', '9', '--tracking-uri', store]);
  const runId = /mlflow run: ([0-9a-f]{32}) \(sqlite:/.exec(out)?.[1];
  assert.ok(runId, `no run id in:\n${out}`);
  const manifest = JSON.parse(readFileSync(join(kept, 'manifest.json'), 'utf8')) as { version: string; search: { trials_run: number; best_params: Record<string, number> }; params: Record<string, number> };
  assert.equal(manifest.search.trials_run, 3);
  assert.equal(manifest.params['learning_rate'], manifest.search.best_params['learning_rate']);

  const registry = join(work, 'registry-from-run');
  const reg = cli(['model', 'register', '--mlflow-run', runId, '--tracking-uri', store, '--registry', registry]);
  assert.match(reg, /registered churn-search@2\.0\.0/);
  for (const f of ['model.onnx', 'manifest.json']) {
    assert.deepEqual(readFileSync(join(registry, 'churn-search', '2.0.0', f)), readFileSync(join(kept, f)), f);
  }
  // Registering the same run again is a no-op (identical content).
  assert.match(cli(['model', 'register', '--mlflow-run', runId, '--tracking-uri', store, '--registry', registry]), /already registered with identical content/);

  // A run id the store does not know: a clear error, exit 2, nothing registered.
  const missing = spawnSync(process.execPath, [BIN, 'model', 'register', '--mlflow-run', 'f'.repeat(32), '--tracking-uri', store, '--registry', join(work, 'registry-none')], { encoding: 'utf8' });
  assert.equal(missing.status, 2, missing.stderr);
  assert.match(missing.stderr, /not found/);
  assert.ok(!existsSync(join(work, 'registry-none', 'churn-search')));
  // Either a directory or a run, not both.
  const both = spawnSync(process.execPath, [BIN, 'model', 'register', kept, '--mlflow-run', runId, '--registry', registry], { encoding: 'utf8' });
  assert.equal(both.status, 2);
  assert.match(both.stderr, /either <bundle-dir> or --mlflow-run/);
});
