// RowWorker (src/scoring/row-worker.ts), the one way the scoring and TreeSHAP worker threads start,
// answer, fail and stop: a compute error fails that call only; a thread that dies fails every waiting
// call, is reported once and never used again; closing is not a failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RowWorker } from '../../../src/scoring/row-worker.js';

const serveRows = new URL('../../../src/scoring/row-worker-thread.js', import.meta.url).href;
const script = (body: string): URL => new URL(`data:text/javascript,${encodeURIComponent(`import { serveRows } from ${JSON.stringify(serveRows)};\n${body}`)}`);

test('answers each call with its own rows; a compute error fails that call only', async () => {
  const failures: Error[] = [];
  const w = new RowWorker<Float64Array>(
    script(`serveRows((rows, n) => { if (n === 0) throw new Error('no rows'); return Float64Array.from(rows.subarray(0, n), (v) => v * 2); });`),
    null,
    'test',
    (err) => failures.push(err),
  );
  try {
    assert.equal(await w.ready, true);
    const [a, b] = await Promise.all([w.run(Float32Array.of(1, 2, 3), 3), w.run(Float32Array.of(5), 1)]);
    assert.deepEqual([...a], [2, 4, 6]);
    assert.deepEqual([...b], [10]);
    await assert.rejects(w.run(new Float32Array(0), 0), (err: Error & { code?: string; retriable?: boolean }) => err.code === 'CF_SCORING_FAILED' && err.retriable === true && /no rows/.test(err.message));
    assert.equal(w.usable, true);
    assert.deepEqual([...(await w.run(Float32Array.of(4), 1))], [8]);
  } finally {
    await w.close();
  }
  assert.equal(w.usable, false);
  assert.equal(w.failure, 'closed');
  assert.deepEqual(failures, [], 'closing is not a failure');
});

test('a thread that dies: waiting calls fail, the failure is reported once, the worker is not used again', async () => {
  const failures: Error[] = [];
  const w = new RowWorker<Float32Array>(script(`serveRows(() => process.exit(3));`), null, 'test', (err) => failures.push(err));
  await assert.rejects(w.run(Float32Array.of(1), 1), /exited \(code 3\)/);
  assert.equal(w.usable, false);
  assert.match(w.failure ?? '', /exited/);
  await assert.rejects(w.run(Float32Array.of(1), 1), /exited/);
  assert.equal(failures.length, 1);

  const broken: Error[] = [];
  const b = new RowWorker<Float32Array>(script(`throw new Error('cannot build the kernel');`), null, 'test', (err) => broken.push(err));
  assert.equal(await b.ready, false, 'a thread that cannot build its kernel is never ready');
  await assert.rejects(b.run(Float32Array.of(1), 1), /cannot build the kernel/);
  assert.equal(broken.length, 1);
  await b.close();
});
