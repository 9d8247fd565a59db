// The small parts of the model lifecycle: leased model swaps, the rollback guard's triggers, shadow
// agreement figures and stable assignment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inShare, stableUnit } from '../../../src/scoring/assignment.js';
import { BUNDLED_MODEL } from '../../../src/scoring/bundled-model.js';
import { manifestSchema, type ModelManifest } from '../../../src/scoring/manifest.js';
import { ModelHandle } from '../../../src/scoring/model-handle.js';
import { RollbackGuard } from '../../../src/scoring/rollback-guard.js';
import type { ScoringModel } from '../../../src/scoring/scoring-model.js';
import type { ScoringRef } from '../../../src/scoring/scoring-ref.js';
import { ShadowAgreement } from '../../../src/scoring/shadow-agreement.js';

const manifest: ModelManifest = manifestSchema.parse(JSON.parse(readFileSync(join(BUNDLED_MODEL, 'manifest.json'), 'utf8')));

function fakeModel(version: string, closed: string[]): ScoringModel {
  return { manifest: { ...manifest, version }, close: async () => void closed.push(version) } as unknown as ScoringModel;
}

test('model handle: a replaced model closes only after the last batch that leased it returns it', async () => {
  const closed: string[] = [];
  const h = new ModelHandle();
  h.set('production', fakeModel('1', closed));
  const lease = h.acquire();
  h.set('production', fakeModel('2', closed));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(closed, [], 'still leased by the batch in flight');
  assert.equal(lease.production?.manifest.version, '1', 'the batch keeps the model it started with');
  const next = h.acquire();
  assert.equal(next.production?.manifest.version, '2', 'the next batch gets the new one');
  next.release();
  lease.release();
  lease.release(); // idempotent
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(closed, ['1']);
  // an unleased model closes at once; a model under two aliases stays open while one still holds it
  const shared = fakeModel('3', closed);
  h.set('candidate', shared);
  h.set('production', shared);
  h.set('candidate', undefined);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(closed, ['1', '2']);
});

test('rollback guard: error rate, latency p99 and score PSI, judged once enough scores came in, once per version', () => {
  const policy = { minScores: 100, maxErrorRate: 0.1, maxLatencyP99Ms: 50, maxScorePsi: 0.25 };
  // scores drawn from the reference's own bins: no trigger
  const fromReference = (n: number) => {
    const { edges, shares } = manifest.reference.score;
    const out: number[] = [];
    shares.forEach((share, b) => {
      const lo = b === 0 ? 0 : edges[b - 1]!;
      const hi = b < edges.length ? edges[b]! : 1;
      for (let i = 0; i < Math.round(share * n); i++) out.push(lo + ((hi - lo) * (i + 0.5)) / Math.round(share * n));
    });
    return out;
  };
  const g = new RollbackGuard(policy);
  g.watch(manifest);
  for (let i = 0; i < 30; i++) g.recordScored(manifest.version, 0.01, fromReference(100));
  assert.equal(g.check(), undefined, 'healthy');

  const shifted = new RollbackGuard(policy);
  shifted.watch(manifest);
  for (let i = 0; i < 30; i++) shifted.recordScored(manifest.version, 0.01, new Array(10).fill(0.99));
  const t = shifted.check()!;
  assert.deepEqual([t.reason, t.version, t.sample], ['score_psi', manifest.version, 100]);
  assert.ok(t.value > 0.25);
  assert.equal(shifted.check(), undefined, 'once per version');

  const slow = new RollbackGuard(policy);
  slow.watch(manifest);
  for (let i = 0; i < 30; i++) slow.recordScored(manifest.version, i === 29 ? 0.5 : 0.01, fromReference(10));
  assert.equal(slow.check()?.reason, 'latency_p99');

  const failing = new RollbackGuard(policy);
  failing.watch(manifest);
  for (let i = 0; i < 3; i++) failing.recordFailure(manifest.version);
  assert.deepEqual(failing.check(), { version: manifest.version, reason: 'error_rate', value: 1, limit: 0.1, sample: 3 });

  // a version failing from its very first batch: watch() on the failure, error rate judged
  const neverScored = new RollbackGuard(policy);
  for (let i = 0; i < 3; i++) {
    neverScored.watch(manifest);
    neverScored.recordFailure(manifest.version);
  }
  assert.equal(neverScored.check()?.reason, 'error_rate');

  const other = new RollbackGuard(policy);
  other.watch(manifest);
  other.recordFailure('9.9.9'); // another version's failures do not count
  other.recordFailure('9.9.9');
  other.recordFailure('9.9.9');
  assert.equal(other.check(), undefined);
});

const ref = (version: string, threshold: number): ScoringRef => ({
  name: 'm',
  version,
  scorer: 'model',
  decision: { threshold, bands: [{ name: 'low', min_score: 0 }, { name: 'high', min_score: threshold }] },
});

test('shadow agreement: Pearson correlation, band flips and shares above each threshold over a bounded ring', () => {
  const a = new ShadowAgreement(4);
  const flips = a.add(ref('1', 0.5), ref('2', 0.3), [0.1, 0.2, 0.6, 0.9], [0.2, 0.4, 0.5, 0.8]);
  assert.equal(flips, 1, '0.4 is high for a threshold of 0.3, 0.2 is low for 0.5');
  const f = a.figures();
  // numpy.corrcoef([0.1,0.2,0.6,0.9],[0.2,0.4,0.5,0.8])[0,1]
  assert.ok(Math.abs(f.correlation - 0.9557698127474783) < 1e-12, `${f.correlation}`);
  assert.deepEqual([f.pairs, f.bandFlips, f.productionAbove, f.shadowAbove], [4, 0.25, 0.5, 0.75]);
  a.add(ref('1', 0.5), ref('2', 0.3), [0.1], [0.1]); // replaces the oldest pair
  assert.equal(a.figures().pairs, 4);
  assert.equal(a.figures().bandFlips, 0.25);
});

test('stable assignment: uniform, deterministic, share boundaries move only marginal customers', () => {
  const ids = Array.from({ length: 10_000 }, (_, i) => `cust-${i}`);
  const u = ids.map((id) => stableUnit(id, 's'));
  assert.deepEqual(u.slice(0, 5), ids.slice(0, 5).map((id) => stableUnit(id, 's')));
  const mean = u.reduce((x, y) => x + y, 0) / u.length;
  assert.ok(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
  const at10 = new Set(ids.filter((id) => inShare(id, 's', 0.1)));
  const at20 = new Set(ids.filter((id) => inShare(id, 's', 0.2)));
  assert.ok([...at10].every((id) => at20.has(id)), 'growing the canary keeps everyone already in it');
  assert.equal(ids.filter((id) => inShare(id, 's', 0)).length, 0);
});
