// Reasons parity: the engine's TreeSHAP (TypeScript, from the trees inside model.onnx) against
// LightGBM's own pred_contrib (trainer `contrib`, from lightgbm.txt) on realistic simulator rows,
// per input column and bias, for every committed bundle that carries node covers; and additivity
// against what onnxruntime-node actually serves (the logit of the model's probability).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { compileSpec, type CompiledSpec } from '../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../src/features/default-churn-spec.js';
import { createTreeExplainer } from '../../src/scoring/explain/explainer.js';
import { parseTreeEnsembleAttributes } from '../../src/scoring/explain/onnx-tree-ensemble.js';
import { loadModelBundle } from '../../src/scoring/model-bundle.js';
import { loadScoringModel } from '../../src/scoring/scoring-model.js';
import { resolveSimulatorOptions, simulate, simulationEndTime } from '../../src/simulator/index.js';
import type { ActivityEventJson } from '../../src/events/wire-types.js';
import { runSnapshot } from '../helpers/run-snapshot.js';
import { trainer } from '../helpers/python.js';

// Every bundle in the committed registry: each must carry covers (the promotion gate requires them).
const BUNDLES = readdirSync('models/churn-gbdt', { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => `models/churn-gbdt/${d.name}`).sort();
const TOLERANCE = 1e-4;

let rowsPromise: Promise<{ spec: CompiledSpec; rows: Float64Array[] }> | undefined;
function simulatorRows(): Promise<{ spec: CompiledSpec; rows: Float64Array[] }> {
  rowsPromise ??= (async () => {
    const spec = compileSpec(DEFAULT_CHURN_SPEC, { allowedLatenessMs: 3_600_000 });
    const sim = resolveSimulatorOptions({ customers: 300, days: 90, seed: 23 });
    const events: ActivityEventJson[] = [];
    for (const r of simulate(sim)) if (r.type === 'event') events.push(r.event);
    const snap = await runSnapshot(events, spec, simulationEndTime(sim));
    return { spec, rows: snap.rows.slice(0, 500).map((r) => r.features) };
  })();
  return rowsPromise;
}

function hasCovers(dir: string): boolean {
  return parseTreeEnsembleAttributes(readFileSync(join(dir, 'model.onnx')), dir).covers !== null;
}

for (const dir of BUNDLES) {
  test(`${dir}: TreeSHAP from model.onnx matches LightGBM pred_contrib (${TOLERANCE}) and adds up to the served score`, async (t) => {
    assert.ok(existsSync(join(dir, 'manifest.json')) && hasCovers(dir), `${dir}/model.onnx has no tree covers (re-export it: python -m churnflow_trainer reexport-onnx --bundle ${dir})`);
    const { spec, rows } = await simulatorRows();
    assert.ok(rows.length >= 300, `rows: ${rows.length}`);
    assert.ok(rows.some((r) => r.some((v) => Number.isNaN(v))), 'some rows have missing values, so indicators are exercised');

    const bundle = await loadModelBundle(dir, spec);
    const explainer = await createTreeExplainer(bundle);
    const model = await loadScoringModel(dir, spec);
    const served = await model.scoreFeatures(rows);
    await model.close();
    const bound = explainer.forSpec(spec.columns, model.vectorizer);
    const width = explainer.width;
    const ts = rows.map((r) => bound.contributions(r));

    const tmp = mkdtempSync(join(tmpdir(), 'cf-shap-parity-'));
    const names = spec.columns.map((c) => c.name);
    writeFileSync(join(tmp, 'rows.json'), JSON.stringify(rows.map((r) => Object.fromEntries(names.map((n, j) => [n, Number.isNaN(r[j]!) ? null : r[j]!])))));
    trainer(['contrib', '--bundle', resolve(dir), '--rows', join(tmp, 'rows.json'), '--out', join(tmp, 'contrib.json')]);
    const py = JSON.parse(readFileSync(join(tmp, 'contrib.json'), 'utf8')) as { columns: string[]; imputed_rows: number[][]; contributions: number[][]; raw_score: number[] };
    assert.deepEqual(py.columns, [...bundle.manifest.input_columns, 'bias']);

    let maxDiff = 0;
    let worst = '';
    let maxAdditivity = 0;
    let maxProb = 0;
    let maxLogit = 0;
    let logitRows = 0;
    const nonZero = new Set<number>();
    for (let i = 0; i < rows.length; i++) {
      const row = new Float32Array(width);
      model.vectorizer.write(rows[i]!, row, 0);
      py.imputed_rows[i]!.forEach((v, j) => assert.equal(Math.fround(v), row[j], `row ${i} column ${j}: imputation differs`));
      const mine = ts[i]!;
      const theirs = py.contributions[i]!;
      for (let j = 0; j <= width; j++) {
        const d = Math.abs(mine[j]! - theirs[j]!);
        if (d > maxDiff) {
          maxDiff = d;
          worst = `row ${i} ${py.columns[j]}: ts ${mine[j]} lightgbm ${theirs[j]}`;
        }
        if (j < width && Math.abs(theirs[j]!) > 1e-3) nonZero.add(j);
      }
      const margin = mine.reduce((a, b) => a + b, 0);
      maxAdditivity = Math.max(maxAdditivity, Math.abs(margin - py.raw_score[i]!));
      // Against onnxruntime's float32 probability: in probability space, and as a logit where the
      // float32 rounding of p (relative 6e-8, i.e. 6e-8 / (1 - p) in log-odds) does not dominate.
      const p = served[i]!;
      maxProb = Math.max(maxProb, Math.abs(1 / (1 + Math.exp(-margin)) - p));
      if (p * (1 - p) > 1e-2) {
        logitRows++;
        maxLogit = Math.max(maxLogit, Math.abs(Math.log(p / (1 - p)) - margin));
      }
    }
    t.diagnostic(`${rows.length} rows: max |ts - lightgbm| ${maxDiff.toExponential(2)}, additivity vs lightgbm ${maxAdditivity.toExponential(2)}, vs onnxruntime p ${maxProb.toExponential(2)} / logit ${maxLogit.toExponential(2)} (${logitRows} rows)`);
    assert.ok(maxDiff < TOLERANCE, `max |ts - lightgbm| = ${maxDiff} (${worst})`);
    assert.ok(maxAdditivity < TOLERANCE, `max |sum(ts) - lightgbm raw score| = ${maxAdditivity}`);
    assert.ok(maxProb < 1e-6, `max |sigmoid(sum(ts)) - onnxruntime p| = ${maxProb}`);
    assert.ok(logitRows >= rows.length / 2 && maxLogit < TOLERANCE, `max |sum(ts) - logit(onnxruntime p)| = ${maxLogit} over ${logitRows} rows`);
    assert.ok(nonZero.size >= 10, `only ${nonZero.size} columns ever get a sizeable contribution`);
    assert.ok(
      [...nonZero].some((j) => bundle.manifest.input_columns[j]!.endsWith('__missing')),
      'some missing-indicator column gets a contribution (folding is exercised on real data)',
    );

    // Reasons are the positive folded contributions, ranked.
    const reasons = bound.reasons(rows[0]!, 5);
    assert.ok(reasons.length <= 5 && reasons.every((r, k) => r.contribution > 0 && (k === 0 || reasons[k - 1]!.contribution >= r.contribution)));
  });
}
