// The scoring worker thread (model.workerShare): a batch split between the main thread and the worker
// gives the scores one thread gives, bit for bit (and onnxruntime's); a failed worker's rows are
// walked on the main thread; an idle worker does not keep a finished process alive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFeatureSpec } from '../../../src/features/load-spec.js';
import { loadScoringModel } from '../../../src/scoring/scoring-model.js';
import { parseOnnxTreeEnsemble } from '../../../src/scoring/explain/onnx-tree-ensemble.js';
import { probeRows } from '../../../src/scoring/trees/probe-rows.js';
import { kernelScores, marginWorker, splitScores, SPLIT_MIN_ROWS } from '../../../src/scoring/trees/tree-scorer.js';
import { compileMarginKernel } from '../../../src/scoring/trees/wasm-margin-kernel.js';
import { rng } from '../../helpers/rng.js';

const MODELS = ['1.0.0', '1.1.0'].map((v) => join('models/churn-gbdt', v));
const spec = loadFeatureSpec('builtin:churn_default', { allowedLatenessMs: 3_600_000 });

function randomRows(n: number, seed: number): Float64Array[] {
  const rand = rng(seed);
  return Array.from({ length: n }, () => Float64Array.from(spec.columns, () => (rand() < 0.1 ? Number.NaN : rand() < 0.3 ? 0 : rand() * 60)));
}

test('split batches score as one thread and as onnxruntime do, bit for bit, at every share and size', async () => {
  const rows = randomRows(1500, 5);
  for (const dir of MODELS) {
    const one = await loadScoringModel(dir, spec);
    const onnx = await loadScoringModel(dir, spec, { engine: 'onnxruntime' });
    const halves = await loadScoringModel(dir, spec, { workerShare: 0.5 });
    const all = await loadScoringModel(dir, spec, { workerShare: 1 });
    try {
      assert.equal(one.scorer.worker(), 'off');
      assert.equal(halves.scorer.worker(), 'running');
      for (const size of [SPLIT_MIN_ROWS - 1, SPLIT_MIN_ROWS, 700, 1500]) {
        const batch = rows.slice(0, size);
        const want = await one.scoreFeatures(batch);
        const ref = await onnx.scoreFeatures(batch);
        for (const [name, m] of [['0.5', halves], ['1', all]] as const) {
          const got = await m.scoreFeatures(batch);
          for (let i = 0; i < size; i++) {
            assert.ok(Object.is(got[i], want[i]), `${dir} share ${name}, ${size} rows, row ${i}: ${got[i]} vs one thread ${want[i]}`);
            assert.ok(Object.is(got[i], ref[i]), `${dir} share ${name}, ${size} rows, row ${i}: ${got[i]} vs onnxruntime ${ref[i]}`);
          }
        }
      }
      // Overlapping calls: each keeps its own rows although both write the kernel's memory before the worker answers.
      const a = rows.slice(0, 600);
      const b = rows.slice(600, 1200);
      const [ga, gb] = await Promise.all([halves.scoreFeatures(a), halves.scoreFeatures(b)]);
      const [wa, wb] = [await one.scoreFeatures(a), await one.scoreFeatures(b)];
      assert.deepEqual([...ga], [...wa]);
      assert.deepEqual([...gb], [...wb]);
    } finally {
      await Promise.all([one.close(), onnx.close(), halves.close(), all.close()]);
    }
    assert.equal(halves.scorer.worker(), 'failed', 'closed: the worker is no longer used');
  }
});

test('rows whose probability onnxruntime settles are found in the worker\'s share too', async () => {
  // Probe rows sit on the thresholds; some of their margins leave the logistic to onnxruntime.
  const dir = MODELS[1]!;
  const e = parseOnnxTreeEnsemble(readFileSync(join(dir, 'model.onnx')), dir);
  const one = await loadScoringModel(dir, spec);
  const split = await loadScoringModel(dir, spec, { workerShare: 1 });
  try {
    const probes = probeRows(e, one.scorer.width, 4096, 1234);
    const kernel = compileMarginKernel(e, one.scorer.width);
    kernel.input(4096).set(probes);
    const open = kernelScores(kernel, 4096).open.length;
    assert.ok(open > 0, 'the probe rows include rows left to onnxruntime');
    const want = await one.scorer.score(probes, 4096);
    const got = await split.scorer.score(probes, 4096);
    assert.deepEqual([...got], [...want]);
    assert.equal(split.scorer.settledByOnnx(), open, 'every open row of the worker\'s share went to onnxruntime');
  } finally {
    await Promise.all([one.close(), split.close()]);
  }
});

test('a failed or closed worker: its share is walked on the main thread, same scores', async () => {
  const dir = MODELS[1]!;
  const e = parseOnnxTreeEnsemble(readFileSync(join(dir, 'model.onnx')), dir);
  const width = spec.columns.length === 0 ? 0 : (await loadScoringModel(dir, spec, { engine: 'onnxruntime' }).then(async (m) => { const w = m.scorer.width; await m.close(); return w; }));
  const kernel = compileMarginKernel(e, width);
  const probes = probeRows(e, width, 1000, 77);
  kernel.input(1000).set(probes);
  const want = kernelScores(kernel, 1000);
  const worker = marginWorker(kernel);
  kernel.input(1000).set(probes);
  const live = await splitScores(kernel, worker, 1000, 400);
  assert.deepEqual([...live.scores], [...want.scores]);
  assert.deepEqual(live.open, want.open);
  await worker.close();
  assert.equal(worker.usable, false);
  await assert.rejects(worker.run(new Float32Array(width), 1), /closed/);
  assert.equal(worker.failure, 'closed');
  kernel.input(1000).set(probes);
  const fallback = await splitScores(kernel, worker, 1000, 400);
  assert.deepEqual([...fallback.scores], [...want.scores]);
  assert.deepEqual(fallback.open, want.open);
  assert.deepEqual([...(fallback.openRows ?? [])], [...(want.openRows ?? [])]);
});

test('an idle worker thread does not keep a finished command alive', () => {
  const scoringModel = fileURLToPath(new URL('../../../src/scoring/scoring-model.js', import.meta.url));
  const loadSpec = fileURLToPath(new URL('../../../src/features/load-spec.js', import.meta.url));
  const script = `
    const { loadScoringModel } = await import(${JSON.stringify(scoringModel)});
    const { loadFeatureSpec } = await import(${JSON.stringify(loadSpec)});
    const spec = loadFeatureSpec('builtin:churn_default', { allowedLatenessMs: 3600000 });
    const m = await loadScoringModel('models/churn-gbdt/1.1.0', spec, { workerShare: 0.5 });
    const rows = Array.from({ length: 600 }, (_, i) => new Float64Array(spec.columns.length).fill(i % 7));
    const s = await m.scoreFeatures(rows);
    console.log('scored', s.length, m.scorer.worker());
  `;
  // Not closed on purpose: the process must still end once its work is done.
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.signal, null, `killed after 60 s: the worker kept the process alive (${r.stderr})`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /scored 600 running/);
});

test('TreeSHAP on the worker thread: the same reasons as on this thread, bit for bit; a closed worker leaves them to this thread', async () => {
  const rows = randomRows(300, 9);
  const here = await loadScoringModel(MODELS[1]!, spec, { explain: true });
  const split = await loadScoringModel(MODELS[1]!, spec, { explain: true, workerShare: 0.5 });
  try {
    assert.equal(here.offThreadReasons, undefined);
    const off = split.offThreadReasons!;
    assert.equal(off.share, 0.5);
    const want = here.explainer!.reasonsMany(rows, 5);
    assert.deepEqual(await off.reasons(rows, 5), want);
    // Overlapping with synchronous calls on the same explainer (its scratch rows are reused).
    const pending = off.reasons(rows.slice(0, 100), 3);
    here.explainer!.reasonsMany(rows.slice(100, 200), 3);
    split.explainer!.reasonsMany(rows.slice(100, 200), 3);
    assert.deepEqual(await pending, here.explainer!.reasonsMany(rows.slice(0, 100), 3));
  } finally {
    await here.close();
  }
  await split.close();
  const fresh = await loadScoringModel(MODELS[1]!, spec, { explain: true });
  try {
    assert.deepEqual(await split.offThreadReasons!.reasons(rows.slice(0, 50), 3), fresh.explainer!.reasonsMany(rows.slice(0, 50), 3));
  } finally {
    await fresh.close();
  }
});
