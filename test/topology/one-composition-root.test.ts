// One composition root: every path that reads events (replay, snapshot, backtest, score-all and the
// engine with the memory store) builds its pipeline from the same factories (src/compose/), so one
// config means one behaviour. A history in a user's own shape (read through the input mapping) ends
// with probes that only the configured rules judge as expected — allowed lateness 2 h (default 1 h),
// maxFutureMs 3 days (default 1), minEventTime 2020 (default 2000) — and a 1 KiB state budget: every
// path must dead-letter the same records for the same reasons and cut states to the budget. Then the
// commands that score follow the registry's production alias unless --model says otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { resolveModelDir } from '../../src/compose/model.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createEngine } from '../../src/engine.js';
import { ChurnflowError } from '../../src/errors.js';
import type { DeadLetterRecord } from '../../src/events/wire-types.js';
import { createLogger } from '../../src/observability/logger.js';
import { readNative, writeFlatNdjson } from '../helpers/flat-activity.js';
import { tempRegistry } from '../helpers/registry.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** Runs churnflow; returns its stderr (progress and summary lines). */
function cli(args: readonly string[]): string {
  const res = spawnSync(process.execPath, ['bin/churnflow.js', ...args], { encoding: 'utf8' });
  assert.equal(res.status, 0, `churnflow ${args.join(' ')} failed:\n${res.stderr}`);
  return res.stderr;
}

const readLines = <T>(path: string): T[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as T);

/** What a dead letter says, by the record's line in the input: the same input line must get the same verdict on every path. */
const verdicts = (path: string): string[] => readLines<DeadLetterRecord>(path).map((d) => `${d.source_offset} ${d.route} ${d.reason_code}`).sort();

interface Fixture {
  readonly dir: string;
  readonly config: string;
  readonly history: string;
  /** The probes' verdicts under the configured rules, by input line (0-based). */
  readonly expected: string[];
  /** The line of the row the mapping cannot read. */
  readonly bogusLine: string;
}

async function fixture(): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'cf-one-root-'));
  const native = join(dir, 'native.ndjson');
  execFileSync(process.execPath, ['bin/churnflow.js', 'simulate', '--customers', '40', '--days', '60', '--seed', '5', '-o', native], { stdio: 'ignore' });
  const events = readNative(native);
  const last = Math.max(...events.map((e) => e['event_time'] as number));
  const who = events[0]!['customer_id'] as string;
  const wall = Date.now();
  const login = (id: string, t: number) => ({ event_id: id, customer_id: who, event_time: t, kind: 'login', payload: { device: 'web', success: true } });
  // Judged differently by the defaults: each probe tells whether its rule came from the config.
  const probes = [
    login('late-90m', last - 90 * 60_000), // within 2 h: applied (late under the default 1 h)
    login('late-3h', last - 3 * HOUR_MS), // LATE_EVENT
    login('old-2010', Date.UTC(2010, 5, 1)), // OUT_OF_RANGE under minEventTime 2020 (only late under the default 2000)
    login('future-2d', wall + 2 * DAY_MS), // applied under maxFutureMs 3 days (FUTURE_TIME under the default 1 day)
    login('future-4d', wall + 4 * DAY_MS), // FUTURE_TIME
  ];
  const history = join(dir, 'history.ndjson');
  writeFlatNdjson(history, [...events, ...probes]);
  // A row of a type the mapping does not know: dead-lettered by the mapping, on every path.
  writeFileSync(history, readFileSync(history, 'utf8') + `${JSON.stringify({ id: 'bogus', user: who, at: new Date(last).toISOString(), type: 'BOGUS' })}\n`);
  const line = (k: number) => String(events.length + k);
  const mapping = YAML.parse(readFileSync('examples/file-events/mapping.yaml', 'utf8')) as { input: unknown };
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    YAML.stringify({
      input: mapping.input,
      engine: { allowedLatenessMs: 2 * HOUR_MS },
      validation: { maxFutureMs: 3 * DAY_MS, minEventTime: '2020-01-01' },
      state: { maxBytesPerCustomer: 1024 },
      http: { enabled: false },
      log: { level: 'warn' },
    }),
  );
  return {
    dir,
    config,
    history,
    expected: [`${line(1)} late LATE_EVENT`, `${line(2)} dead-letter OUT_OF_RANGE`, `${line(4)} dead-letter FUTURE_TIME`],
    bogusLine: line(5),
  };
}

const setup = fixture();

test('every path applies the same lateness, validation rules and clock, mapping and state budget from one config', async () => {
  const f = await setup;
  const out = (name: string) => join(f.dir, name);
  const paths: Record<string, { deadLetters: string; budgetCut: boolean }> = {};

  const replayOut = out('replay');
  cli(['replay', '-c', f.config, '-i', f.history, '-o', replayOut]);
  const summary = JSON.parse(readFileSync(join(replayOut, 'summary.json'), 'utf8')) as { state_budget_cuts: number };
  paths['replay'] = { deadLetters: join(replayOut, 'dead-letters.ndjson'), budgetCut: summary.state_budget_cuts > 0 };

  const snapErr = cli(['snapshot', '-c', f.config, '-i', f.history, '-o', out('snap.parquet'), '--warmup-days', '14', '--dead-letters', out('snap-dead.ndjson')]);
  paths['snapshot'] = { deadLetters: out('snap-dead.ndjson'), budgetCut: /state cuts to state\.maxBytesPerCustomer/.test(snapErr) };

  const btErr = cli(['backtest', '-c', f.config, '-i', f.history, '-o', out('bt'), '--warmup-days', '14', '--dead-letters', out('bt-dead.ndjson')]);
  paths['backtest'] = { deadLetters: out('bt-dead.ndjson'), budgetCut: /state cuts to state\.maxBytesPerCustomer/.test(btErr) };

  const saErr = cli(['score-all', '-c', f.config, '-i', f.history, '--as-of', '2025-02-10', '-o', out('scores.ndjson'), '--dead-letters', out('sa-dead.ndjson')]);
  paths['score-all'] = { deadLetters: out('sa-dead.ndjson'), budgetCut: /state cuts to state\.maxBytesPerCustomer/.test(saErr) };

  // The engine (what `churnflow run` starts) with a file source and the memory store.
  const engineOut = out('engine');
  const config = loadConfig({ file: f.config, overrides: { source: { kind: 'file', file: f.history }, sinks: { kind: 'file', dir: engineOut }, state: { kind: 'memory' } } });
  const engine = await createEngine(config, { logger: createLogger({ level: 'silent' }) });
  await engine.run();
  const cuts = (await engine.metrics.stateBudgetExceeded.get()).values.reduce((n, v) => n + v.value, 0);
  paths['engine'] = { deadLetters: join(engineOut, 'dead-letters.ndjson'), budgetCut: cuts > 0 };

  const replayVerdicts = verdicts(paths['replay'].deadLetters);
  assert.ok(replayVerdicts.some((v) => v.startsWith(`${f.bogusLine} dead-letter `)), `the BOGUS row is dead-lettered by the mapping: ${replayVerdicts.join(', ')}`);
  for (const v of f.expected) assert.ok(replayVerdicts.includes(v), `replay: ${v} in ${replayVerdicts.join(', ')}`);
  assert.equal(replayVerdicts.length, f.expected.length + 1, `only the probes and the BOGUS row are refused: ${replayVerdicts.join(', ')}`);
  for (const [name, p] of Object.entries(paths)) {
    assert.deepEqual(verdicts(p.deadLetters), replayVerdicts, `${name}: the same records refused for the same reasons as replay`);
    assert.ok(p.budgetCut, `${name}: states are cut to state.maxBytesPerCustomer`);
  }
});

/** A registry with two versions whose production alias points at the older one (not the bundled default). */
function registryWithAlias(): { config: string; dir: string } {
  const root = tempRegistry(['1.0.0', '1.1.0']);
  writeFileSync(
    join(root, 'churn-gbdt', 'aliases.json'),
    JSON.stringify({ format: 'churnflow.aliases/v1', name: 'churn-gbdt', revision: 1, aliases: { production: '1.0.0' }, history: [{ alias: 'production', action: 'set', from: null, to: '1.0.0', reason: 'test', forced: false, actor: 'test', at: 0, revision: 1 }] }),
  );
  const dir = mkdtempSync(join(tmpdir(), 'cf-alias-'));
  const config = join(dir, 'config.yaml');
  writeFileSync(config, YAML.stringify({ model: { registry: { dir: root } }, http: { enabled: false }, log: { level: 'warn' } }));
  return { config, dir };
}

test('replay, backtest, score-all and demo score with the production alias; --model overrides it', async () => {
  const f = await setup;
  const { config, dir } = registryWithAlias();
  const pinned = join('models', 'churn-gbdt', '1.1.0');
  const native = join(f.dir, 'native.ndjson');

  const replayModel = (extra: string[]) => {
    const o = join(dir, `replay-${extra.length}`);
    cli(['replay', '-c', config, '-i', native, '-o', o, '--now', '2025-03-15', ...extra]);
    return (JSON.parse(readFileSync(join(o, 'summary.json'), 'utf8')) as { model: string }).model;
  };
  assert.equal(replayModel([]), 'churn-gbdt@1.0.0', 'replay: the alias');
  assert.equal(replayModel(['--model', pinned]), 'churn-gbdt@1.1.0', 'replay: --model');

  const backtestModel = (extra: string[]) => {
    const o = join(dir, `bt-${extra.length}`);
    cli(['backtest', '-c', config, '-i', native, '-o', o, '--now', '2025-03-15', '--warmup-days', '14', ...extra]);
    return (JSON.parse(readFileSync(join(o, 'report.json'), 'utf8')) as { models: { version: string }[] }).models.map((m) => m.version);
  };
  assert.deepEqual(backtestModel([]), ['1.0.0'], 'backtest: the alias');
  assert.deepEqual(backtestModel(['-m', pinned]), ['1.1.0'], 'backtest: --model');

  const scoreAllModels = (extra: string[]) => {
    const o = join(dir, `scores-${extra.length}.ndjson`);
    cli(['score-all', '-c', config, '-i', native, '--as-of', '2025-02-10', '-o', o, ...extra]);
    return [...new Set(readLines<{ model_version: string }>(o).map((r) => r.model_version))];
  };
  assert.deepEqual(scoreAllModels([]), ['1.0.0'], 'score-all: the alias');
  assert.deepEqual(scoreAllModels(['--model', pinned]), ['1.1.0'], 'score-all: --model');

  const demoModel = (extra: string[]) => {
    const res = spawnSync(process.execPath, ['bin/churnflow.js', 'demo', '--config', config, '--customers', '20', '--days', '20', '--quiet', '--show', '0', '--port', '0', '-o', join(dir, `demo-${extra.length}`), ...extra], { encoding: 'utf8' });
    assert.equal(res.status, 0, res.stderr);
    return /model churn-gbdt@(\S+)/.exec(res.stdout)?.[1];
  };
  assert.equal(demoModel([]), '1.0.0', 'demo: the alias');
  assert.equal(demoModel(['--model', pinned]), '1.1.0', 'demo: --model');
});

test('no version under the alias: CF_MODEL_UNAVAILABLE naming model.alias and the way out', async () => {
  const root = tempRegistry(['1.1.0']);
  const config = loadConfig({ overrides: { model: { registry: { dir: root } } } });
  await assert.rejects(resolveModelDir(config), (e: unknown) => e instanceof ChurnflowError && e.code === 'CF_MODEL_UNAVAILABLE' && /model\.alias/.test(e.message) && /--model/.test(e.message));
  assert.equal(await resolveModelDir(config, { modelOverride: 'some/bundle' }), 'some/bundle', '--model needs no registry');
});
