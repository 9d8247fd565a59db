// `npm ci` must install without warnings on every Node version package.json supports. Three cheap
// checks instead of a full install (minutes, and the network): engines of every locked package,
// the install-script policy, and `npm ci --dry-run` on a copy of the project files, which prints
// npm's config and engine warnings without downloading or running anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string }; allowScripts?: Record<string, boolean> };
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[]; hasInstallScript?: boolean; dev?: boolean }>;
};
const locked = Object.entries(lock.packages).filter(([path]) => path !== '');
const nameOf = (path: string) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);

test('every locked package accepts every Node version package.json "engines" admits (no EBADENGINE on any of them)', () => {
  const ours = pkg.engines.node;
  assert.ok(semver.validRange(ours), `engines.node ${ours}`);
  assert.ok(semver.satisfies(process.version, ours), `this Node (${process.version}) is one package.json admits (${ours})`);
  const refused = locked.flatMap(([path, p]) => {
    const wanted = !Array.isArray(p.engines) ? p.engines?.node : undefined;
    return wanted !== undefined && !semver.subset(ours, wanted) ? [`${nameOf(path)}@${p.version} wants node ${wanted}`] : [];
  });
  assert.deepEqual(refused, [], `packages refusing part of engines.node ${ours}`);
});

test('every locked package with an install script is decided in package.json "allowScripts"; the CUDA download of onnxruntime-node is denied', () => {
  const undecided = locked.filter(([, p]) => p.hasInstallScript).map(([path]) => nameOf(path)).filter((name) => typeof pkg.allowScripts?.[name] !== 'boolean');
  assert.deepEqual(undecided, [], 'npm ≥ 11.16 warns about each of these ("not yet covered by allowScripts"), npm 12 blocks them');
  assert.equal(pkg.allowScripts?.['onnxruntime-node'], false);
});

test('npm ci --dry-run on the project files prints no warning (unknown .npmrc keys, engines, overrides)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cf-npm-ci-'));
  try {
    for (const f of ['package.json', 'package-lock.json', '.npmrc']) copyFileSync(join(ROOT, f), join(dir, f));
    writeFileSync(join(dir, 'empty-userconfig'), '');
    // The project's own files only: no npm_* variables from an enclosing `npm test`, no user config;
    // --offline: a dry run needs nothing from the registry (the lock holds every version and integrity).
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
    const res = spawnSync('npm', ['ci', '--dry-run', '--ignore-scripts', '--offline', '--no-audit', '--no-fund', '--userconfig', join(dir, 'empty-userconfig')], { cwd: dir, env, encoding: 'utf8', timeout: 120_000 });
    const out = `${res.stdout}\n${res.stderr}`;
    assert.equal(res.status, 0, out);
    const warnings = out.split('\n').filter((l) => /npm warn|EBADENGINE/i.test(l));
    assert.deepEqual(warnings, [], out);
    assert.match(out, /added \d+ packages/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
