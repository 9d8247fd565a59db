// `churnflow model …` end to end through the real CLI on a temp registry (copies of the committed 1.0.0
// bundle): register, promote through the gate, list --json, a refused promote (exit code, every reason),
// --force with its warning, rollback chains, inspect, and the registry/policy taken from --config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';

const BUNDLE = 'models/churn-gbdt/1.0.0';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with a clean CHURNFLOW_* environment. */
function cli(args: string[], env: Record<string, string> = {}): Run {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CHURNFLOW_')));
  const r = spawnSync(process.execPath, ['bin/churnflow.js', 'model', ...args], { encoding: 'utf8', env: { ...clean, USER: 'tester', ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const ok = (r: Run): Run => {
  assert.equal(r.status, 0, `exit 0 expected, got ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r;
};

interface Json {
  version: string;
  metrics: { validation: Record<string, number> };
  reference_outputs?: { rows: number[][]; scores: number[] };
  [key: string]: unknown;
}

function bundle(dir: string, version: string, edit: (m: Json) => void = () => {}): string {
  const out = mkdtempSync(join(dir, `bundle-${version}-`));
  const m = JSON.parse(readFileSync(join(BUNDLE, 'manifest.json'), 'utf8')) as Json;
  m.version = version;
  edit(m);
  writeFileSync(join(out, 'manifest.json'), JSON.stringify(m));
  for (const f of ['model.onnx', 'lightgbm.txt']) copyFileSync(join(BUNDLE, f), join(out, f));
  return out;
}

test('model CLI: register, promote, list --json, a refused promote, --force, rollback, inspect', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cf-model-cli-'));
  const reg = join(dir, 'registry');
  const R = ['--registry', reg];
  try {
    const b100 = bundle(dir, '1.0.0');
    const b110 = bundle(dir, '1.1.0', (m) => (m.metrics.validation['recall']! += 0.03));
    const bad = bundle(dir, '1.2.0', (m) => {
      m.metrics.validation['roc_auc']! -= 0.05;
      m.reference_outputs!.scores[4]! += 0.002;
    });

    // register
    assert.match(ok(cli(['register', b100, ...R])).stdout, new RegExp(`^registered churn-gbdt@1\\.0\\.0 → ${join(reg, 'churn-gbdt', '1.0.0')}\\n$`));
    const r110 = JSON.parse(ok(cli(['register', b110, ...R, '--json'])).stdout) as Record<string, unknown>;
    assert.deepEqual(r110, { ok: true, name: 'churn-gbdt', version: '1.1.0', dir: join(reg, 'churn-gbdt', '1.1.0'), outcome: 'registered', actor: `tester@${hostname()}` });
    ok(cli(['register', bad, ...R]));
    assert.match(ok(cli(['register', b100, ...R])).stdout, /already registered with identical content/);
    const clash = cli(['register', bundle(dir, '1.0.0', (m) => (m['created_at'] = '2027-01-01T00:00:00Z')), ...R]);
    assert.equal(clash.status, 1);
    assert.match(clash.stderr, /CF_MODEL_EXISTS: .*different content \(manifest\.json\)/);

    // promote 1.0.0, then 1.1.0 through the gate
    const p1 = JSON.parse(ok(cli(['promote', 'churn-gbdt', '1.0.0', ...R, '--reason', 'first model', '--actor', 'ci@build', '--json'])).stdout) as Record<string, unknown>;
    assert.equal(p1['ok'], true);
    assert.equal(p1['previous'], null);
    assert.equal(p1['revision'], 1);
    assert.equal((p1['gate'] as { ok: boolean }).ok, true);
    const p2 = ok(cli(['promote', 'churn-gbdt', '1.1.0', ...R, '--reason', 'better recall']));
    assert.match(p2.stdout, /^promotion gate for churn-gbdt@1\.1\.0 → production \(now 1\.0\.0\)\n/);
    assert.match(p2.stdout, /ok {2}reference-outputs {2}32 reference rows re-scored/);
    assert.match(p2.stdout, /promoted churn-gbdt@1\.1\.0 to production \(was 1\.0\.0\) \(revision 2\)\n$/);

    // list --json
    const list = JSON.parse(ok(cli(['list', ...R, '--json'])).stdout) as {
      registry: string;
      aliasStore: string;
      models: { name: string; revision: number; aliases: Record<string, string>; versions: { version: string; aliases: string[]; featureSpecHash: string; validation: Record<string, number> }[] }[];
    };
    assert.equal(list.registry, reg);
    assert.equal(list.aliasStore, 'file');
    assert.equal(list.models.length, 1);
    assert.deepEqual(list.models[0]!.aliases, { production: '1.1.0' });
    assert.equal(list.models[0]!.revision, 2);
    assert.deepEqual(list.models[0]!.versions.map((v) => [v.version, v.aliases]), [['1.0.0', []], ['1.1.0', ['production']], ['1.2.0', []]]);
    assert.ok(list.models[0]!.versions.every((v) => v.featureSpecHash.startsWith('sha256:') && typeof v.validation['roc_auc'] === 'number'));
    const human = ok(cli(['list', 'churn-gbdt', ...R])).stdout;
    assert.match(human, /churn-gbdt {2}\(production → 1\.1\.0; alias revision 2\)/);
    assert.match(human, /\n {2}1\.1\.0 +production +2026-11-26T00:00:00Z/);

    // a refused promote: exit 1, every failed check named, the alias untouched
    const refused = cli(['promote', 'churn-gbdt', '1.2.0', ...R]);
    assert.equal(refused.status, 1, refused.stderr);
    assert.match(refused.stderr, /CF_PROMOTION_REFUSED: refusing to promote churn-gbdt@1\.2\.0 to production; failed checks:/);
    assert.match(refused.stderr, /\n {2}- reference-outputs: 1 of 32 reference rows score differently: row 4/);
    assert.match(refused.stderr, /\n {2}- roc_auc: .* below production churn-gbdt@1\.1\.0/);
    assert.match(refused.stdout, /FAIL {2}roc_auc/);
    const refusedJson = cli(['promote', 'churn-gbdt', '1.2.0', ...R, '--json']);
    assert.equal(refusedJson.status, 1);
    const rj = JSON.parse(refusedJson.stdout) as { ok: boolean; error: { code: string }; checks: { name: string; ok: boolean }[] };
    assert.equal(rj.ok, false);
    assert.equal(rj.error.code, 'CF_PROMOTION_REFUSED');
    assert.deepEqual(rj.checks.filter((c) => !c.ok).map((c) => c.name), ['reference-outputs', 'roc_auc']);
    const aliasesFile = join(reg, 'churn-gbdt', 'aliases.json');
    assert.equal((JSON.parse(readFileSync(aliasesFile, 'utf8')) as { revision: number }).revision, 2);

    // --force: applied, recorded, warned about
    const forced = ok(cli(['promote', 'churn-gbdt', '1.2.0', ...R, '--force', '--reason', 'incident 42']));
    assert.match(forced.stdout, /FORCED: promoted churn-gbdt@1\.2\.0 to production despite 2 failed check\(s\) \(revision 3\)/);
    const warning = forced.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['level'] === 40);
    assert.ok(warning, `a pino warning on stderr: ${forced.stderr}`);
    assert.equal(warning['msg'], 'model promoted with --force past failed promotion checks');
    assert.equal(warning['version'], '1.2.0');

    // rollback: back to 1.1.0, then 1.0.0, then nothing left
    const rb1 = ok(cli(['rollback', 'churn-gbdt', ...R, '--reason', 'bad scores']));
    assert.equal(rb1.stdout, 'rolled back churn-gbdt production 1.2.0 → 1.1.0 (revision 4)\n');
    const rb2 = JSON.parse(ok(cli(['rollback', 'churn-gbdt', ...R, '--reason', 'still bad', '--json'])).stdout) as Record<string, unknown>;
    assert.deepEqual(rb2, { ok: true, name: 'churn-gbdt', from: '1.1.0', to: '1.0.0', forced: false, revision: 5, aliases: { production: '1.0.0' } });
    const rb3 = cli(['rollback', 'churn-gbdt', ...R, '--reason', 'again']);
    assert.equal(rb3.status, 1);
    assert.match(rb3.stderr, /CF_ROLLBACK_REFUSED: cannot roll back churn-gbdt: production 1\.0\.0 has no earlier production version/);
    assert.notEqual(cli(['rollback', 'churn-gbdt', ...R]).status, 0, '--reason is required');

    // the history on disk
    const state = JSON.parse(readFileSync(aliasesFile, 'utf8')) as { format: string; revision: number; aliases: Record<string, string>; history: { action: string; from: string | null; to: string | null; forced: boolean; actor: string; reason: string }[] };
    assert.equal(state.format, 'churnflow.aliases/v1');
    assert.equal(state.revision, 5);
    assert.deepEqual(state.aliases, { production: '1.0.0' });
    assert.deepEqual(state.history.map((h) => [h.action, h.from, h.to, h.forced, h.reason]), [
      ['promote', null, '1.0.0', false, 'first model'],
      ['promote', '1.0.0', '1.1.0', false, 'better recall'],
      ['promote', '1.1.0', '1.2.0', true, 'incident 42'],
      ['rollback', '1.2.0', '1.1.0', false, 'bad scores'],
      ['rollback', '1.1.0', '1.0.0', false, 'still bad'],
    ]);
    assert.equal(state.history[0]!.actor, 'ci@build');
    assert.equal(state.history[1]!.actor, `tester@${hostname()}`);

    // inspect
    const ins = JSON.parse(ok(cli(['inspect', 'churn-gbdt:production', ...R, '--json'])).stdout) as { version: string; via: string; files: { path: string }[]; history: unknown[]; manifest: { reference_outputs: { rows: number } } };
    assert.equal(ins.version, '1.0.0');
    assert.equal(ins.via, 'production');
    assert.deepEqual(ins.files.map((f) => f.path), ['lightgbm.txt', 'manifest.json', 'model.onnx']);
    assert.equal(ins.manifest.reference_outputs.rows, 32);
    const insHuman = ok(cli(['inspect', 'churn-gbdt@1.1.0', ...R])).stdout;
    assert.match(insHuman, /^churn-gbdt@1\.1\.0\n/);
    assert.match(insHuman, /reference rows {2}32/);
    assert.match(insHuman, /rollback +1\.1\.0 → 1\.0\.0/);
    const missing = cli(['inspect', 'churn-gbdt:candidate', ...R]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /CF_MODEL_NOT_FOUND: model 'churn-gbdt' has no candidate alias/);
    assert.equal(cli(['list', 'nope', ...R]).status, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('model CLI: --config supplies the registry dir and the promotion policy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cf-model-cli-config-'));
  try {
    const reg = join(dir, 'models');
    const config = join(dir, 'churnflow.yaml');
    writeFileSync(config, `model:\n  registry:\n    dir: ${reg}\n  promotion:\n    maxMetricDrop:\n      roc_auc: 0.1\n`);
    ok(cli(['register', bundle(dir, '1.0.0'), '--config', config]));
    ok(cli(['register', bundle(dir, '1.1.0', (m) => (m.metrics.validation['roc_auc']! -= 0.05)), '--config', config]));
    ok(cli(['promote', 'churn-gbdt', '1.0.0', '--config', config]));
    // A 0.05 AUC drop passes this config's policy but not the default one.
    assert.equal(cli(['promote', 'churn-gbdt', '1.1.0', '--registry', reg]).status, 1);
    ok(cli(['promote', 'churn-gbdt', '1.1.0', '--config', config]));
    const list = JSON.parse(ok(cli(['list', '--json'], { CHURNFLOW_MODEL_REGISTRY_DIR: reg })).stdout) as { models: { aliases: Record<string, string> }[] };
    assert.deepEqual(list.models[0]!.aliases, { production: '1.1.0' });
    const bad = cli(['list', '--config', join(dir, 'missing.yaml')]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /CF_CONFIG_INVALID/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
