// Training/serving parity: the same raw feature rows, imputed and scored by the engine (TypeScript,
// onnxruntime-node) and by the trainer (Python: the LightGBM booster and onnxruntime), agree within 1e-5.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileSpec } from '../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../src/features/default-churn-spec.js';
import { loadScoringModel } from '../../src/scoring/scoring-model.js';
import { resolveSimulatorOptions, simulate, simulationEndTime } from '../../src/simulator/index.js';
import type { ActivityEventJson } from '../../src/events/wire-types.js';
import { runSnapshot } from '../helpers/run-snapshot.js';
import { trainer } from '../helpers/python.js';
import { BUNDLED_MODEL } from '../../src/scoring/bundled-model.js';

const BUNDLE = BUNDLED_MODEL;

test('engine and trainer score the same rows identically (1e-5), imputation included', async () => {
  const spec = compileSpec(DEFAULT_CHURN_SPEC, { allowedLatenessMs: 3_600_000 });
  const sim = resolveSimulatorOptions({ customers: 300, days: 90, seed: 21 });
  const events: ActivityEventJson[] = [];
  for (const r of simulate(sim)) if (r.type === 'event') events.push(r.event);
  const snap = await runSnapshot(events, spec, simulationEndTime(sim));
  const rows = snap.rows.slice(0, 600).map((r) => r.features);
  assert.ok(rows.length >= 300, `rows: ${rows.length}`);
  assert.ok(rows.some((r) => r.some((v) => Number.isNaN(v))), 'some rows have missing values, so imputation is exercised');

  const model = await loadScoringModel(BUNDLE, spec);
  const ts = await model.scoreFeatures(rows);
  const tsImputed = rows.map((r) => {
    const out = new Float32Array(model.vectorizer.width);
    model.vectorizer.write(r, out, 0);
    return [...out];
  });
  await model.close();

  const dir = mkdtempSync(join(tmpdir(), 'cf-parity-'));
  const names = spec.columns.map((c) => c.name);
  writeFileSync(join(dir, 'rows.json'), JSON.stringify(rows.map((r) => Object.fromEntries(names.map((n, j) => [n, Number.isNaN(r[j]!) ? null : r[j]!])))));
  trainer(['score', '--bundle', join(process.cwd(), BUNDLE), '--rows', join(dir, 'rows.json'), '--out', join(dir, 'scores.json')]);
  const py = JSON.parse(readFileSync(join(dir, 'scores.json'), 'utf8')) as { imputed_rows: number[][]; lightgbm: number[]; onnxruntime: number[] };

  let maxLgb = 0;
  let maxOrt = 0;
  for (let i = 0; i < rows.length; i++) {
    maxLgb = Math.max(maxLgb, Math.abs(ts[i]! - py.lightgbm[i]!));
    maxOrt = Math.max(maxOrt, Math.abs(ts[i]! - py.onnxruntime[i]!));
    py.imputed_rows[i]!.forEach((v, j) => assert.ok(Math.abs(Math.fround(v) - tsImputed[i]![j]!) === 0, `row ${i} column ${j}: ${v} vs ${tsImputed[i]![j]}`));
  }
  assert.ok(maxLgb < 1e-5, `max |ts - lightgbm| = ${maxLgb}`);
  assert.ok(maxOrt < 1e-5, `max |ts - onnxruntime| = ${maxOrt}`);
  assert.ok(new Set([...ts].map((s) => s.toFixed(3))).size > 50, 'scores vary (not a constant model)');
});
