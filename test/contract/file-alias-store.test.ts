// FileAliasStore: the shared alias-store contract on temp dirs, then what is particular to files: the
// JSON on disk, atomic replacement, the lock (abandoned locks are broken, a live one is waited for),
// corrupt files, and separate OS processes racing on one revision.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChurnflowError } from '../../src/errors.js';
import { FileAliasStore } from '../../src/registry/file-alias-store.js';
import { ManualClock } from '../../src/time/clock.js';
import { aliasStoreContract, promote } from './alias-store.contract.js';

const tempRoot = () => mkdtempSync(join(tmpdir(), 'cf-aliases-'));

aliasStoreContract('file alias store', async () => {
  const root = tempRoot();
  return {
    open: async (clock) => new FileAliasStore({ root, clock }),
    cleanup: async () => rmSync(root, { recursive: true, force: true }),
  };
});

const T0 = Date.UTC(2026, 10, 26);

test('file alias store: aliases.json is pretty JSON with a format marker, replaced atomically, no temp or lock files left', async () => {
  const root = tempRoot();
  const store = new FileAliasStore({ root, clock: new ManualClock(T0) });
  await store.update('churn-gbdt', 0, promote(null, '1.0.0', { reason: 'first', actor: 'ci@build' }));
  await store.update('churn-gbdt', 1, promote('1.0.0', '1.1.0', { reason: 'retrain', actor: 'ci@build' }));
  const text = readFileSync(join(root, 'churn-gbdt', 'aliases.json'), 'utf8');
  assert.ok(text.endsWith('}\n') && text.includes('\n  "revision": 2,'));
  assert.deepEqual(JSON.parse(text), {
    format: 'churnflow.aliases/v1',
    name: 'churn-gbdt',
    revision: 2,
    aliases: { production: '1.1.0' },
    history: [
      { alias: 'production', action: 'promote', from: null, to: '1.0.0', reason: 'first', forced: false, actor: 'ci@build', at: T0, revision: 1 },
      { alias: 'production', action: 'promote', from: '1.0.0', to: '1.1.0', reason: 'retrain', forced: false, actor: 'ci@build', at: T0, revision: 2 },
    ],
  });
  assert.deepEqual(readdirSync(join(root, 'churn-gbdt')), ['aliases.json']);
  assert.equal(store.pathOf('churn-gbdt'), join(root, 'churn-gbdt', 'aliases.json'));
  rmSync(root, { recursive: true, force: true });
});

test('file alias store: a corrupt or foreign aliases.json is an error naming the file, never read as empty', async () => {
  const root = tempRoot();
  const store = new FileAliasStore({ root });
  mkdirSync(join(root, 'm'));
  writeFileSync(join(root, 'm', 'aliases.json'), '{"revision": 3');
  await assert.rejects(store.read('m'), (e: unknown) => e instanceof ChurnflowError && e.code === 'CF_ALIAS_STORE_FAILED' && e.message.includes('aliases.json'));
  await assert.rejects(store.update('m', 3, promote(null, '1.0.0')), (e: unknown) => e instanceof ChurnflowError && e.code === 'CF_ALIAS_STORE_FAILED');
  writeFileSync(join(root, 'm', 'aliases.json'), JSON.stringify({ format: 'churnflow.aliases/v1', name: 'other', revision: 0, aliases: {}, history: [] }));
  await assert.rejects(store.read('m'), /holds the aliases of model 'other'/);
  writeFileSync(join(root, 'm', 'aliases.json'), JSON.stringify({ format: 'churnflow.aliases/v1', name: 'm', revision: 1, aliases: { staging: '1.0.0' }, history: [] }));
  await assert.rejects(store.read('m'), /aliases/);
  rmSync(root, { recursive: true, force: true });
});

test('file alias store: a lock left by a dead process is broken; a live, fresh lock is waited for, then a retriable error', async () => {
  const root = tempRoot();
  mkdirSync(join(root, 'm'));
  const lock = join(root, 'm', 'aliases.json.lock');
  const dead = spawnSync(process.execPath, ['-e', '']).pid!;
  writeFileSync(lock, JSON.stringify({ pid: dead, host: hostname(), token: 'abandoned', at: 0 }));
  const store = new FileAliasStore({ root, lockTimeoutMs: 300 });
  await store.update('m', 0, promote(null, '1.0.0'));
  assert.deepEqual(readdirSync(join(root, 'm')), ['aliases.json'], 'the abandoned lock is gone, ours released');

  // A fresh lock of a process on another host (its pid cannot be checked from here) is respected.
  writeFileSync(lock, JSON.stringify({ pid: 1, host: 'another-host', token: 'live', at: Date.now() }));
  const started = Date.now();
  await assert.rejects(store.update('m', 1, promote('1.0.0', '1.1.0')), (e: unknown) => e instanceof ChurnflowError && e.code === 'CF_ALIAS_STORE_FAILED' && e.retriable && /held by pid 1 on another-host/.test(e.message));
  assert.ok(Date.now() - started >= 300);
  assert.equal((await store.read('m')).revision, 1);
  assert.ok(readFileSync(lock, 'utf8').includes('"live"'), "someone else's lock is left alone");

  // The same lock, once older than staleLockMs, counts as abandoned.
  utimesSync(lock, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
  const s = await new FileAliasStore({ root, staleLockMs: 60_000 }).update('m', 1, promote('1.0.0', '1.1.0'));
  assert.equal(s.revision, 2);
  assert.deepEqual(readdirSync(join(root, 'm')), ['aliases.json']);
  rmSync(root, { recursive: true, force: true });
});

test('file alias store: separate OS processes racing on one revision: exactly one applies', async () => {
  const root = tempRoot();
  await new FileAliasStore({ root }).update('m', 0, promote(null, '1.0.0'));
  const moduleUrl = new URL('../../src/registry/file-alias-store.js', import.meta.url).href;
  const startAt = Date.now() + 700; // every child waits for the same instant, then updates
  const script = `
    const { FileAliasStore } = await import(${JSON.stringify(moduleUrl)});
    const store = new FileAliasStore({ root: process.argv[1] });
    while (Date.now() < ${startAt}) await new Promise((r) => setTimeout(r, 1));
    try {
      await store.update('m', 1, { alias: 'production', from: '1.0.0', to: '2.0.' + process.argv[2], action: 'promote', reason: '', forced: false, actor: 'p' + process.argv[2] });
      process.stdout.write('won');
    } catch (e) {
      process.stdout.write(e.code ?? String(e));
    }`;
  const n = 8;
  const outcomes = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script, root, String(i)], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.on('error', reject);
        child.on('close', () => resolve(out));
      }),
    ),
  );
  assert.equal(outcomes.filter((o) => o === 'won').length, 1, `outcomes: ${outcomes.join(', ')}`);
  assert.equal(outcomes.filter((o) => o === 'CF_ALIAS_CONFLICT').length, n - 1, `outcomes: ${outcomes.join(', ')}`);
  const state = await new FileAliasStore({ root }).read('m');
  assert.equal(state.revision, 2);
  assert.equal(state.aliases.production, `2.0.${outcomes.indexOf('won')}`);
  assert.deepEqual(readdirSync(join(root, 'm')), ['aliases.json']);
  rmSync(root, { recursive: true, force: true });
});
