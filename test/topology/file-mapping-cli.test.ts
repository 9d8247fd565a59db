// Input mapping on every file path: replay, snapshot, backtest and score-all read a history in a
// user's own flat shape (examples/file-events: NDJSON, CSV and an Avro container file) through
// `-c mapping.yaml` and produce exactly the native file's outputs, byte for byte. A record the
// mapping cannot read is dead-lettered naming the field and why; a mapping that reads nothing
// fails the command with CF_MAPPING_NO_MATCH.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUNDLED_MODEL } from '../../src/scoring/bundled-model.js';
import YAML from 'yaml';
import { readNative, writeFlatAvro, writeFlatCsv, writeFlatNdjson } from '../helpers/flat-activity.js';

const cli = (args: string[]) => execFileSync(process.execPath, ['bin/churnflow.js', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const failure = (args: string[]): string => {
  try {
    cli(args);
  } catch (err) {
    return (err as { stderr?: string }).stderr ?? '';
  }
  assert.fail(`churnflow ${args.join(' ')} succeeded`);
};
const MAPPING = 'examples/file-events/mapping.yaml';
const NOW = '2025-03-01';

async function histories(): Promise<{ dir: string; native: string; foreign: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'cf-file-mapping-'));
  const native = join(dir, 'native.ndjson');
  cli(['simulate', '--customers', '60', '--days', '52', '--seed', '12', '-o', native]);
  const events = readNative(native);
  const foreign = [join(dir, 'flat.ndjson'), join(dir, 'flat.csv'), join(dir, 'flat.avro')];
  writeFlatNdjson(foreign[0]!, events);
  writeFlatCsv(foreign[1]!, events);
  await writeFlatAvro(foreign[2]!, events);
  return { dir, native, foreign };
}

const setup = histories();

test('replay: each foreign file through the mapping gives the native replay byte for byte', async () => {
  const { dir, native, foreign } = await setup;
  const run = (input: string, name: string, config?: string) => {
    const out = join(dir, `replay-${name}`);
    cli(['replay', '-i', input, '-o', out, '--now', NOW, ...(config ? ['-c', config] : [])]);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Record<string, unknown>;
    delete summary['input'];
    return { risk: readFileSync(join(out, 'risk-events.ndjson')), dead: readFileSync(join(out, 'dead-letters.ndjson')), summary };
  };
  const want = run(native, 'native');
  assert.ok(want.risk.length > 1000, 'the native replay emits risk events');
  for (const file of foreign) {
    const got = run(file, file.slice(file.lastIndexOf('.') + 1), MAPPING);
    assert.ok(got.risk.equals(want.risk), `${file}: risk events identical`);
    assert.ok(got.dead.equals(want.dead), `${file}: dead letters identical`);
    assert.deepEqual(got.summary, want.summary, `${file}: summary identical`);
  }
});

test('snapshot: the same Parquet training set from every foreign file', async () => {
  const { dir, native, foreign } = await setup;
  const run = (input: string, name: string, config?: string) => {
    const out = join(dir, `snap-${name}.parquet`);
    cli(['snapshot', '-i', input, '-o', out, '--now', NOW, '--warmup-days', '14', ...(config ? ['-c', config] : [])]);
    const meta = JSON.parse(readFileSync(out.replace(/\.parquet$/, '.meta.json'), 'utf8')) as Record<string, unknown>;
    delete meta['source'];
    return { parquet: readFileSync(out), meta };
  };
  const want = run(native, 'native');
  for (const file of foreign) {
    const got = run(file, file.slice(file.lastIndexOf('.') + 1), MAPPING);
    assert.ok(got.parquet.equals(want.parquet), `${file}: Parquet identical`);
    assert.deepEqual(got.meta, want.meta, `${file}: metadata identical but for the source`);
  }
});

test('backtest and score-all: the same report and the same scores from every foreign file', async () => {
  const { dir, native, foreign } = await setup;
  const backtest = (input: string, name: string, config?: string) => {
    const out = join(dir, `bt-${name}`);
    cli(['backtest', '-i', input, '-m', BUNDLED_MODEL, '-o', out, '--now', NOW, '--warmup-days', '14', ...(config ? ['-c', config] : [])]);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { data: Record<string, unknown> };
    delete report.data['source'];
    return report;
  };
  const scoreAll = (input: string, name: string, config?: string) => {
    const out = join(dir, `scores-${name}.ndjson`);
    cli(['score-all', '--as-of', '2025-02-10', '-i', input, '-o', out, ...(config ? ['-c', config] : [])]);
    return readFileSync(out);
  };
  const wantReport = backtest(native, 'native');
  const wantScores = scoreAll(native, 'native');
  assert.ok(wantScores.toString().trim().split('\n').length >= 40, 'score-all scores the customers');
  for (const file of foreign) {
    const name = file.slice(file.lastIndexOf('.') + 1);
    assert.deepEqual(backtest(file, name, MAPPING), wantReport, `${file}: backtest report identical but for the source`);
    assert.ok(scoreAll(file, name, MAPPING).equals(wantScores), `${file}: score-all output identical`);
  }
});

test('run with source.kind=file: the foreign files through the config\'s mapping give the native run\'s risk events', async () => {
  const { dir, native, foreign } = await setup;
  const input = (YAML.parse(readFileSync(MAPPING, 'utf8')) as { input: unknown }).input;
  const run = (file: string, name: string, mapped: boolean) => {
    const out = join(dir, `run-${name}`);
    const config = join(dir, `run-${name}.yaml`);
    writeFileSync(config, YAML.stringify({ source: { kind: 'file', file }, state: { kind: 'memory' }, sinks: { kind: 'file', dir: out }, http: { enabled: false }, log: { level: 'warn' }, ...(mapped ? { input } : {}) }));
    cli(['run', '-c', config]);
    // processing_time is the wall clock of a run; everything else comes from the input.
    return readFileSync(join(out, 'risk-events.ndjson'), 'utf8').trim().split('\n').map((l) => {
      const r = JSON.parse(l) as Record<string, unknown>;
      delete r['processing_time'];
      return r;
    });
  };
  const want = run(native, 'native', false);
  assert.ok(want.length > 100, `risk events of the native run: ${want.length}`);
  for (const file of [foreign[1]!, foreign[2]!]) assert.deepEqual(run(file, file.slice(file.lastIndexOf('.') + 1), true), want, file);
});

test('a record the mapping cannot read is dead-lettered with the field and the reason; the rest are scored', async () => {
  const { dir, foreign } = await setup;
  const lines = readFileSync(foreign[1]!, 'utf8').trim().split('\n');
  const header = lines[0]!.split(',');
  const secs = header.indexOf('secs');
  const at = header.indexOf('at');
  const row = lines.findIndex((l, i) => i > 0 && l.split(',')[header.indexOf('type')] === 'WATCH');
  const cells = lines[row]!.split(',');
  cells[secs] = 'lots';
  lines[row] = cells.join(',');
  const row2 = lines.findIndex((l, i) => i > row && l.split(',')[header.indexOf('type')] === 'LOGIN');
  const cells2 = lines[row2]!.split(',');
  cells2[at] = '2025-01-05 10:00';
  lines[row2] = cells2.join(',');
  const broken = join(dir, 'broken.csv');
  writeFileSync(broken, `${lines.join('\n')}\n`);
  const out = join(dir, 'replay-broken');
  cli(['replay', '-i', broken, '-o', out, '--now', NOW, '-c', MAPPING]);
  const dead = readFileSync(join(out, 'dead-letters.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { reason_code: string; reason_detail: string; source_offset: string | null });
  assert.equal(dead.length, 2);
  assert.equal(dead[0]!.reason_code, 'MAPPING');
  assert.equal(dead[0]!.reason_detail, `mapping 'flat-activity': payload.session.duration_seconds (path 'secs') = "lots" is not a number`);
  assert.equal(dead[0]!.source_offset, String(row - 1), 'the CSV record number (the header is not a record)');
  assert.equal(dead[1]!.reason_code, 'MAPPING');
  assert.match(dead[1]!.reason_detail, /^mapping 'flat-activity': eventTime \(path 'at'\) = "2025-01-05 10:00" is not an ISO 8601 date-time with a zone/);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { records: number; dead_lettered: Record<string, number> };
  assert.deepEqual(summary.dead_lettered, { MAPPING: 2 });
  assert.equal(summary.records, lines.length - 1);
});

test('a mapping that maps nothing fails the command with CF_MAPPING_NO_MATCH, naming the mapping', async () => {
  const { dir, foreign, native } = await setup;
  // A mapping written for another export: its time column does not exist in these files.
  const wrong = join(dir, 'wrong-mapping.yaml');
  writeFileSync(wrong, readFileSync(MAPPING, 'utf8').replace('eventTime: { path: at, unit: iso8601 }', 'eventTime: { path: occurred_at, unit: s }'));
  for (const args of [['replay', '-i', foreign[1]!, '-o', join(dir, 'nomatch')], ['snapshot', '-i', foreign[0]!, '-o', join(dir, 'nomatch.parquet')], ['score-all', '--as-of', '2025-02-10', '-i', foreign[2]!, '-o', join(dir, 'nomatch.ndjson')]]) {
    const err = failure([...args, '-c', wrong]);
    assert.match(err, /CF_MAPPING_NO_MATCH: input mapping 'flat-activity' mapped none of the first 100 records it claimed \(file:flat\.\w+\); the last failed with: mapping 'flat-activity': eventTime \(path 'occurred_at'\) is missing/, args[0]);
  }
  // Fewer records than the limit, none mapped: fails at the end of the input.
  const few = join(dir, 'few.csv');
  writeFileSync(few, readFileSync(foreign[1]!, 'utf8').split('\n').slice(0, 6).join('\n') + '\n');
  assert.match(failure(['replay', '-i', few, '-o', join(dir, 'few'), '-c', wrong]), /CF_MAPPING_NO_MATCH: input mapping 'flat-activity' mapped none of all 5 records it claimed/);
  // A mapping that names Kafka topics does not read files: the foreign file is not read as native events either.
  const topics = join(dir, 'topic-mapping.yaml');
  writeFileSync(topics, readFileSync(MAPPING, 'utf8').replace('- name: flat-activity', '- name: flat-activity\n      topics: [exports.activity]'));
  assert.match(failure(['replay', '-i', foreign[0]!, '-o', join(dir, 'topics'), '-c', topics]), /CF_MAPPING_NO_MATCH: no input mapping claimed any of the first 100 records of file:flat\.ndjson .*mappings: 'flat-activity' \(topics exports\.activity\)/);
  // …while a native file under the same config is read natively.
  cli(['replay', '-i', native, '-o', join(dir, 'native-with-topic-mapping'), '--now', NOW, '-c', topics]);
  // CSV has no native form: without a mapping it is refused before reading.
  assert.match(failure(['replay', '-i', foreign[1]!, '-o', join(dir, 'csv-native')]), /CF_CONFIG_INVALID: input\.mappings: .*flat\.csv is a CSV file, which churnflow reads only through an input mapping/);
});
