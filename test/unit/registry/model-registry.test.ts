// ModelRegistry on temp registries with copies of the committed 1.0.0 bundle (never models/ itself):
// register (copy, idempotent, refusals), list and inspect, promote through the gate (refusals, --force),
// rollback chains, and two promotes racing.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configSchema } from '../../../src/config/config-schema.js';
import { ChurnflowError, type ErrorCode } from '../../../src/errors.js';
import { loadFeatureSpec } from '../../../src/features/load-spec.js';
import type { AliasChange } from '../../../src/registry/alias-store.js';
import { FileAliasStore } from '../../../src/registry/file-alias-store.js';
import { compareModelVersions, isModelVersion } from '../../../src/registry/model-version.js';
import { createAliasStore, ModelRegistry, openModelRegistry, rollbackTarget, type GateContext } from '../../../src/registry/model-registry.js';
import { RedisAliasStore } from '../../../src/registry/redis-alias-store.js';
import { ManualClock } from '../../../src/time/clock.js';

const BUNDLE = fileURLToPath(new URL('../../../../models/churn-gbdt/1.0.0/', import.meta.url));
const spec = loadFeatureSpec('builtin:churn_default');
const gate: GateContext = { spec, policy: { maxMetricDrop: { roc_auc: 0.01, pr_auc: 0.02, recall: 0.05 }, referenceTolerance: 1e-6 } };
const T0 = Date.UTC(2026, 10, 26, 9);

interface Json {
  name: string;
  version: string;
  feature_spec_hash: string;
  metrics: { validation: Record<string, number> };
  reference_outputs?: { rows: number[][]; scores: number[] };
  [key: string]: unknown;
}

const temps: string[] = [];
const temp = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
};
after(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A bundle dir: the 1.0.0 bundle as `version`, its manifest changed by `edit`. */
function bundle(version: string, edit: (m: Json) => void = () => {}): string {
  const dir = temp(`cf-bundle-${version}-`);
  const m = JSON.parse(readFileSync(join(BUNDLE, 'manifest.json'), 'utf8')) as Json;
  m.version = version;
  edit(m);
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(m, null, 1)}\n`);
  for (const f of ['model.onnx', 'lightgbm.txt']) copyFileSync(join(BUNDLE, f), join(dir, f));
  return dir;
}

function newRegistry(clock = new ManualClock(T0)): { registry: ModelRegistry; root: string; clock: ManualClock } {
  const root = temp('cf-registry-');
  return { registry: new ModelRegistry({ root, aliases: new FileAliasStore({ root, clock }) }), root, clock };
}

const code = (c: ErrorCode) => (e: unknown) => e instanceof ChurnflowError && e.code === c;
const opts = (extra: Record<string, unknown> = {}) => ({ actor: 'tester@host', gate, ...extra });

test('model versions sort in semver order: numerically, pre-releases before their release, build metadata after', () => {
  const vs = ['1.10.0', '1.2.0', '2.0.0', '2.0.0-rc.10', '2.0.0-rc.2', '1.2.0+build.7', '0.9.12', '2.0.0-alpha', '10.0.0'];
  assert.deepEqual([...vs].sort(compareModelVersions), ['0.9.12', '1.2.0', '1.2.0+build.7', '1.10.0', '2.0.0-alpha', '2.0.0-rc.2', '2.0.0-rc.10', '2.0.0', '10.0.0']);
  // anything that is not a version sorts after every version, by text (a stray alias value never throws)
  assert.deepEqual(['zeta', '1.0.0', 'alpha', '0.1.0'].sort(compareModelVersions), ['0.1.0', '1.0.0', 'alpha', 'zeta']);
});

test('a model version is a semantic version in canonical form (it is also a directory name)', () => {
  for (const v of ['0.0.1', '1.2.3', '1.2.3-rc.1', '1.2.3+build.7', '1.2.3-alpha.beta-2+sha.5114f85']) assert.equal(isModelVersion(v), true, v);
  for (const v of ['v1.2.3', '=1.2.3', ' 1.2.3', '1.2', '01.2.3', '1.2.3-01', '1.0.2-../../x', '1.2.3+', '']) assert.equal(isModelVersion(v), false, JSON.stringify(v));
});

test('register copies a valid bundle to <root>/<name>/<version>/; the same bytes again are a no-op', async () => {
  const { registry, root } = newRegistry();
  const src = bundle('1.0.0');
  const r = await registry.register(src, { actor: 'a@h' });
  assert.deepEqual(r, { name: 'churn-gbdt', version: '1.0.0', dir: join(root, 'churn-gbdt', '1.0.0'), outcome: 'registered', actor: 'a@h' });
  assert.deepEqual(readdirSync(r.dir).sort(), ['lightgbm.txt', 'manifest.json', 'model.onnx']);
  for (const f of ['manifest.json', 'model.onnx']) assert.ok(readFileSync(join(src, f)).equals(readFileSync(join(r.dir, f))));
  assert.deepEqual(readdirSync(join(root, 'churn-gbdt')), ['1.0.0'], 'no temp dir left behind');
  assert.equal((await registry.register(src, { actor: 'a@h' })).outcome, 'unchanged');
  // Registering the registered dir itself is also a no-op.
  assert.equal((await registry.register(r.dir, { actor: 'a@h' })).outcome, 'unchanged');
  assert.equal(registry.bundleDir('churn-gbdt', '1.0.0'), r.dir);
});

test('register refuses a version already registered with other content, naming the files that differ', async () => {
  const { registry } = newRegistry();
  await registry.register(bundle('1.0.0'), { actor: 'a' });
  const changed = bundle('1.0.0', (m) => (m.metrics.validation['roc_auc'] = 0.9));
  await assert.rejects(registry.register(changed, { actor: 'a' }), (e: unknown) => code('CF_MODEL_EXISTS')(e) && /already registered .* different content \(manifest\.json\)/.test((e as Error).message));
  const extra = bundle('1.0.0');
  writeFileSync(join(extra, 'notes.txt'), 'x');
  await assert.rejects(registry.register(extra, { actor: 'a' }), (e: unknown) => code('CF_MODEL_EXISTS')(e) && /notes\.txt/.test((e as Error).message));
});

test('register refuses an invalid bundle with the reasons, and copies nothing', async () => {
  const { registry, root } = newRegistry();
  const bad = bundle('1.0.0', (m) => {
    delete m['features'];
    m.feature_spec_hash = 'md5:x';
  });
  await assert.rejects(registry.register(bad, { actor: 'a' }), (e: unknown) => code('CF_MODEL_INVALID')(e) && /features/.test((e as Error).message) && /feature_spec_hash/.test((e as Error).message));
  const noOnnx = bundle('1.0.1');
  rmSync(join(noOnnx, 'model.onnx'));
  await assert.rejects(registry.register(noOnnx, { actor: 'a' }), (e: unknown) => code('CF_MODEL_INVALID')(e) && /model\.onnx is missing/.test((e as Error).message));
  await assert.rejects(registry.register(bundle('1.0.2-../../x'), { actor: 'a' }), (e: unknown) => code('CF_MODEL_INVALID')(e) && /not a plain semantic version/.test((e as Error).message));
  await assert.rejects(registry.register(temp('cf-empty-'), { actor: 'a' }), code('CF_MODEL_INVALID'));
  assert.equal(existsSync(join(root, 'churn-gbdt')), false);
});

test('list: versions in semver order with manifest summary and aliases; problems are listed, unknown models are an error', async () => {
  const { registry, root } = newRegistry();
  for (const v of ['1.10.0', '1.2.0', '1.9.0']) await registry.register(bundle(v, (m) => (m.metrics.validation['roc_auc'] = 0.8 + Number(v.split('.')[1]) / 1000)), { actor: 'a' });
  await registry.promote('churn-gbdt', '1.9.0', opts());
  await registry.promote('churn-gbdt', '1.10.0', opts({ alias: 'candidate' }));
  // A directory whose manifest disagrees with its place.
  mkdirSync(join(root, 'churn-gbdt', '3.0.0'));
  copyFileSync(join(BUNDLE, 'manifest.json'), join(root, 'churn-gbdt', '3.0.0', 'manifest.json'));
  const list = await registry.list('churn-gbdt');
  assert.deepEqual(list.map((v) => [v.version, v.aliases]), [['1.2.0', []], ['1.9.0', ['production']], ['1.10.0', ['candidate']], ['3.0.0', []]]);
  const v19 = list[1]!;
  assert.equal(v19.name, 'churn-gbdt');
  assert.equal(v19.dir, join(root, 'churn-gbdt', '1.9.0'));
  assert.equal(v19.createdAt, '2026-11-26T00:00:00Z');
  assert.equal(v19.featureSpecHash, spec.hash);
  assert.equal(v19.validation?.['roc_auc'], 0.8 + 9 / 1000);
  assert.deepEqual(v19.training, { from: 1738368000000, to: 1758931200000, rows: 91132 });
  assert.equal(v19.problem, null);
  assert.match(list[3]!.problem!, /holds churn-gbdt@1\.0\.0 according to its manifest/);
  assert.deepEqual(await registry.list(), list, 'all models = this one');
  await assert.rejects(registry.list('nope'), (e: unknown) => code('CF_MODEL_NOT_FOUND')(e) && /models: churn-gbdt/.test((e as Error).message));
  // An alias pointing at a bundle that was deleted shows up as a problem.
  rmSync(join(root, 'churn-gbdt', '1.10.0'), { recursive: true });
  const after = await registry.list('churn-gbdt');
  assert.deepEqual(after.find((v) => v.version === '1.10.0'), {
    name: 'churn-gbdt', version: '1.10.0', dir: join(root, 'churn-gbdt', '1.10.0'), aliases: ['candidate'], createdAt: null, featureSpecHash: null, validation: null, training: null, problem: 'bundle missing from the registry',
  });
});

test('inspect by version or alias: manifest, files with hashes, the alias history of the version', async () => {
  const { registry } = newRegistry();
  await registry.register(bundle('1.0.0'), { actor: 'a' });
  await registry.register(bundle('1.1.0'), { actor: 'a' });
  await registry.promote('churn-gbdt', '1.0.0', opts({ reason: 'first' }));
  await registry.promote('churn-gbdt', '1.1.0', opts({ reason: 'retrain' }));
  const d = await registry.inspect('churn-gbdt', 'production');
  assert.equal(d.via, 'production');
  assert.equal(d.summary.version, '1.1.0');
  assert.equal(d.manifest.version, '1.1.0');
  assert.deepEqual(d.files.map((f) => f.path), ['lightgbm.txt', 'manifest.json', 'model.onnx']);
  assert.match(d.files[2]!.sha256, /^sha256:[0-9a-f]{64}$/);
  assert.deepEqual(d.history.map((h) => [h.from, h.to, h.reason]), [['1.0.0', '1.1.0', 'retrain']]);
  const old = await registry.inspect('churn-gbdt', '1.0.0');
  assert.equal(old.via, null);
  assert.deepEqual(old.summary.aliases, []);
  assert.equal(old.history.length, 2);
  await assert.rejects(registry.inspect('churn-gbdt', 'candidate'), (e: unknown) => code('CF_MODEL_NOT_FOUND')(e) && /no candidate alias \(production → 1\.1\.0\)/.test((e as Error).message));
  await assert.rejects(registry.inspect('churn-gbdt', '9.9.9'), (e: unknown) => code('CF_MODEL_NOT_FOUND')(e) && /versions: 1\.0\.0, 1\.1\.0/.test((e as Error).message));
  await assert.rejects(registry.inspect('churn-gbdt', 'latest'), code('CF_INPUT_INVALID'));
});

test('promote: the first production needs no comparison; the next is gated against it; history records both', async () => {
  const { registry, clock } = newRegistry();
  await registry.register(bundle('1.0.0'), { actor: 'a' });
  await registry.register(bundle('1.1.0', (m) => (m.metrics.validation['recall'] = 0.69)), { actor: 'a' });
  assert.equal(await registry.resolve('churn-gbdt', 'production'), undefined);
  const p1 = await registry.promote('churn-gbdt', '1.0.0', { ...opts(), reason: 'first' });
  assert.equal(p1.gate.ok, true);
  assert.equal(p1.previous, null);
  assert.equal(p1.forced, false);
  assert.equal(p1.state.revision, 1);
  clock.advance(3_600_000);
  const p2 = await registry.promote('churn-gbdt', '1.1.0', { ...opts(), reason: 'better recall' });
  assert.equal(p2.previous, '1.0.0');
  assert.match(p2.gate.checks.find((c) => c.name === 'recall')!.detail, /vs production churn-gbdt@1\.0\.0/);
  assert.equal(await registry.resolve('churn-gbdt', 'production'), '1.1.0');
  const state = await registry.aliases('churn-gbdt');
  assert.deepEqual(state.history, [
    { alias: 'production', from: null, to: '1.0.0', action: 'promote', reason: 'first', forced: false, actor: 'tester@host', at: T0, revision: 1 },
    { alias: 'production', from: '1.0.0', to: '1.1.0', action: 'promote', reason: 'better recall', forced: false, actor: 'tester@host', at: T0 + 3_600_000, revision: 2 },
  ]);
  // Promoting what the alias already points at writes nothing.
  const again = await registry.promote('churn-gbdt', '1.1.0', opts());
  assert.equal(again.unchanged, true);
  assert.equal((await registry.aliases('churn-gbdt')).revision, 2);
  // The candidate alias moves independently.
  await registry.promote('churn-gbdt', '1.0.0', opts({ alias: 'candidate' }));
  assert.deepEqual((await registry.aliases('churn-gbdt')).aliases, { production: '1.1.0', candidate: '1.0.0' });
  await assert.rejects(registry.promote('churn-gbdt', '2.0.0', opts()), code('CF_MODEL_NOT_FOUND'));
});

const refusal = (...checks: string[]) => (e: unknown) => {
  if (!code('CF_PROMOTION_REFUSED')(e)) return false;
  const msg = (e as Error).message;
  const failed = ((e as ChurnflowError).details['checks'] as { name: string; ok: boolean }[]).filter((c) => !c.ok).map((c) => c.name);
  assert.deepEqual(failed, checks);
  for (const c of checks) assert.ok(msg.includes(`\n  - ${c}: `), `the message lists ${c}: ${msg}`);
  return true;
};

test('promote refuses a candidate that fails the gate, listing every failed check, and leaves the alias alone', async () => {
  const { registry } = newRegistry();
  await registry.register(bundle('1.0.0'), { actor: 'a' });
  await registry.promote('churn-gbdt', '1.0.0', opts());
  const cases: [string, (m: Json) => void, string[]][] = [
    ['1.1.0', (m) => (m.feature_spec_hash = `sha256:${'a'.repeat(64)}`), ['feature-spec']],
    ['1.2.0', (m) => (m.reference_outputs!.scores[7]! += 0.001), ['reference-outputs']],
    ['1.3.0', (m) => (m.metrics.validation['roc_auc']! -= 0.05), ['roc_auc']],
    ['1.4.0', (m) => delete m.reference_outputs, ['reference-outputs']],
    ['1.5.0', (m) => {
      m.metrics.validation['pr_auc']! -= 0.1;
      m.metrics.validation['recall']! -= 0.1;
    }, ['pr_auc', 'recall']],
  ];
  for (const [version, edit, failed] of cases) {
    await registry.register(bundle(version, edit), { actor: 'a' });
    await assert.rejects(registry.promote('churn-gbdt', version, opts()), refusal(...failed), version);
  }
  const state = await registry.aliases('churn-gbdt');
  assert.deepEqual(state.aliases, { production: '1.0.0' });
  assert.equal(state.revision, 1);
});

test('promote --force applies a failing candidate and records forced=true; a passing one is not marked forced', async () => {
  const { registry } = newRegistry();
  await registry.register(bundle('1.0.0'), { actor: 'a' });
  await registry.register(bundle('1.1.0', (m) => (m.metrics.validation['roc_auc']! -= 0.05)), { actor: 'a' });
  await registry.register(bundle('1.2.0'), { actor: 'a' });
  await registry.promote('churn-gbdt', '1.0.0', opts({ force: true }));
  const r = await registry.promote('churn-gbdt', '1.1.0', opts({ force: true, reason: 'hotfix, accepted lower AUC' }));
  assert.equal(r.forced, true);
  assert.equal(r.gate.ok, false);
  assert.deepEqual(r.gate.checks.filter((c) => !c.ok).map((c) => c.name), ['roc_auc']);
  const state = await registry.aliases('churn-gbdt');
  assert.deepEqual(state.history.map((h) => [h.to, h.forced, h.reason]), [['1.0.0', false, ''], ['1.1.0', true, 'hotfix, accepted lower AUC']]);
  assert.equal(state.aliases.production, '1.1.0');
});

test('promote fails the gate when the production bundle it must compare with is gone', async () => {
  const { registry, root } = newRegistry();
  await registry.register(bundle('1.0.0'), { actor: 'a' });
  await registry.register(bundle('1.1.0'), { actor: 'a' });
  await registry.promote('churn-gbdt', '1.0.0', opts());
  rmSync(join(root, 'churn-gbdt', '1.0.0'), { recursive: true });
  await assert.rejects(registry.promote('churn-gbdt', '1.1.0', opts()), refusal('production'));
  assert.equal((await registry.promote('churn-gbdt', '1.1.0', opts({ force: true }))).forced, true);
});

test('rollback goes back one production version at a time, never to a version it rolled back from', async () => {
  const { registry, clock } = newRegistry();
  for (const v of ['1.0.0', '1.1.0', '1.2.0']) {
    await registry.register(bundle(v), { actor: 'a' });
    await registry.promote('churn-gbdt', v, opts());
    clock.advance(1000);
  }
  await registry.promote('churn-gbdt', '1.0.0', opts({ alias: 'candidate' })); // candidate changes don't count
  const r1 = await registry.rollback('churn-gbdt', { reason: 'scores drifted', actor: 'oncall@h' });
  assert.deepEqual([r1.from, r1.to, r1.forced], ['1.2.0', '1.1.0', false]);
  const r2 = await registry.rollback('churn-gbdt', { reason: 'still bad', actor: 'oncall@h' });
  assert.deepEqual([r2.from, r2.to], ['1.1.0', '1.0.0']);
  await assert.rejects(registry.rollback('churn-gbdt', { reason: 'again', actor: 'oncall@h' }), (e: unknown) => code('CF_ROLLBACK_REFUSED')(e) && /production 1\.0\.0 has no earlier production version/.test((e as Error).message));
  const state = await registry.aliases('churn-gbdt');
  assert.equal(state.aliases.production, '1.0.0');
  assert.deepEqual(state.history.filter((h) => h.action === 'rollback').map((h) => [h.from, h.to, h.reason, h.actor]), [['1.2.0', '1.1.0', 'scores drifted', 'oncall@h'], ['1.1.0', '1.0.0', 'still bad', 'oncall@h']]);
  // Promoting a rolled-back version again makes it eligible again.
  await registry.promote('churn-gbdt', '1.2.0', opts());
  assert.equal((await registry.rollback('churn-gbdt', { reason: 'r', actor: 'a' })).to, '1.0.0');
});

test('rollback ifProductionIs: a second engine\'s verdict about a version already rolled back moves nothing', async () => {
  const { registry } = newRegistry();
  for (const v of ['1.0.0', '1.1.0', '1.2.0']) {
    await registry.register(bundle(v), { actor: 'a' });
    await registry.promote('churn-gbdt', v, opts());
  }
  assert.equal((await registry.rollback('churn-gbdt', { reason: 'engine A', actor: 'a', ifProductionIs: '1.2.0' })).to, '1.1.0');
  await assert.rejects(registry.rollback('churn-gbdt', { reason: 'engine B', actor: 'b', ifProductionIs: '1.2.0' }), (e: unknown) => code('CF_ROLLBACK_REFUSED')(e) && /production is 1\.1\.0 now, not 1\.2\.0/.test((e as Error).message));
  assert.equal((await registry.aliases('churn-gbdt')).aliases.production, '1.1.0');
});

test('rollback is refused without a production version, or with only one', async () => {
  const { registry } = newRegistry();
  await registry.register(bundle('1.0.0'), { actor: 'a' });
  await assert.rejects(registry.rollback('churn-gbdt', { reason: 'r', actor: 'a' }), (e: unknown) => code('CF_ROLLBACK_REFUSED')(e) && /no production version/.test((e as Error).message));
  await registry.promote('churn-gbdt', '1.0.0', opts({ alias: 'candidate' }));
  await assert.rejects(registry.rollback('churn-gbdt', { reason: 'r', actor: 'a' }), code('CF_ROLLBACK_REFUSED'));
  await registry.promote('churn-gbdt', '1.0.0', opts());
  await assert.rejects(registry.rollback('churn-gbdt', { reason: 'r', actor: 'a' }), (e: unknown) => code('CF_ROLLBACK_REFUSED')(e) && /no earlier production version/.test((e as Error).message));
});

test('rollback refuses a target trained on another feature spec (when given the spec) unless forced, and a missing bundle always', async () => {
  const { registry, root } = newRegistry();
  await registry.register(bundle('1.0.0', (m) => (m.feature_spec_hash = `sha256:${'b'.repeat(64)}`)), { actor: 'a' });
  await registry.register(bundle('1.1.0'), { actor: 'a' });
  await registry.promote('churn-gbdt', '1.0.0', opts({ force: true }));
  await registry.promote('churn-gbdt', '1.1.0', opts());
  await assert.rejects(registry.rollback('churn-gbdt', { reason: 'r', actor: 'a', spec }), (e: unknown) => code('CF_ROLLBACK_REFUSED')(e) && /trained on feature spec sha256:b{64}/.test((e as Error).message));
  const r = await registry.rollback('churn-gbdt', { reason: 'r', actor: 'a', spec, force: true });
  assert.deepEqual([r.to, r.forced], ['1.0.0', true]);
  // Back to 1.1.0, then delete 1.0.0 on disk: the rollback target is unusable.
  await registry.promote('churn-gbdt', '1.1.0', opts());
  rmSync(join(root, 'churn-gbdt', '1.0.0'), { recursive: true });
  await assert.rejects(registry.rollback('churn-gbdt', { reason: 'r', actor: 'a' }), (e: unknown) => code('CF_ROLLBACK_REFUSED')(e) && /1\.0\.0 is not usable/.test((e as Error).message));
});

test('rollbackTarget walks production history newest first, skipping retired versions', () => {
  let rev = 0;
  const h = (action: AliasChange['action'], from: string | null, to: string | null, alias: AliasChange['alias'] = 'production'): AliasChange => ({ alias, from, to, action, reason: '', forced: false, actor: 'a', at: 0, revision: ++rev });
  assert.equal(rollbackTarget([], '1.0.0'), null);
  assert.equal(rollbackTarget([h('promote', null, '1'), h('promote', '1', '2')], '2'), '1');
  assert.equal(rollbackTarget([h('promote', null, '1'), h('promote', '1', '2'), h('promote', '2', '3'), h('rollback', '3', '2')], '2'), '1');
  assert.equal(rollbackTarget([h('promote', null, '1'), h('promote', '1', '2'), h('clear', '2', null), h('set', null, '3')], '3'), '2');
  assert.equal(rollbackTarget([h('promote', null, '1'), h('set', null, '9', 'candidate'), h('promote', '1', '2')], '2'), '1');
  // History truncated: the oldest entry's `from` still counts.
  assert.equal(rollbackTarget([h('promote', '0.9', '1')], '1'), '0.9');
});

test('two promotes racing from separate processes-worth of stores: exactly one moves the alias', async () => {
  const { registry, root } = newRegistry();
  for (const v of ['1.0.0', '1.1.0', '1.2.0']) await registry.register(bundle(v), { actor: 'a' });
  await registry.promote('churn-gbdt', '1.0.0', opts());
  const other = new ModelRegistry({ root, aliases: new FileAliasStore({ root }) });
  const results = await Promise.allSettled([registry.promote('churn-gbdt', '1.1.0', opts()), other.promote('churn-gbdt', '1.2.0', opts())]);
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
  assert.ok(code('CF_ALIAS_CONFLICT')(lost.reason) && (lost.reason as ChurnflowError).retriable);
  assert.equal((await registry.aliases('churn-gbdt')).revision, 2);
});

test('openModelRegistry / createAliasStore follow config model.registry', async () => {
  const root = temp('cf-open-');
  const config = configSchema.parse({ model: { registry: { dir: root } } });
  const reg = openModelRegistry(config);
  assert.equal(reg.root, root);
  assert.ok(reg.aliasStore instanceof FileAliasStore);
  assert.equal((reg.aliasStore as FileAliasStore).pathOf('m'), join(root, 'm', 'aliases.json'));
  await reg.close();
  const other = temp('cf-open-');
  assert.equal(openModelRegistry(config, { registryDir: other }).root, other);
  const redisConfig = configSchema.parse({ model: { registry: { aliasStore: 'redis' } }, state: { redis: { url: 'redis://127.0.0.1:1', keyPrefix: 'x:' } } });
  const store = createAliasStore(redisConfig, { onConnectionError: () => {} });
  assert.ok(store instanceof RedisAliasStore);
  assert.equal((store as RedisAliasStore).keyOf('churn-gbdt'), 'x:model:{churn-gbdt}');
  await store.close();
});
