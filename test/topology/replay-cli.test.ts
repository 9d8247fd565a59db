// `churnflow replay` over files: deterministic (two runs, identical bytes) for NDJSON and Avro
// container input, and the same risk events as the scoring topology on the same records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cli = (args: string[]) => execFileSync(process.execPath, ['bin/churnflow.js', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

test('replay is byte-identical run to run, for NDJSON and Avro container files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cf-replay-'));
  cli(['simulate', '--customers', '150', '--days', '45', '--seed', '8', '--bad-rate', '0.01', '--late-rate', '0.01', '-o', join(dir, 'events.ndjson')]);
  cli(['simulate', '--customers', '150', '--days', '45', '--seed', '8', '-o', join(dir, 'events.avro')]);
  for (const input of ['events.ndjson', 'events.avro']) {
    const outs = [1, 2].map((n) => {
      const out = join(dir, `${input}-${n}`);
      cli(['replay', '-i', join(dir, input), '-o', out, '--batch', n === 1 ? '64' : '1000']);
      return ['risk-events.ndjson', 'dead-letters.ndjson', 'summary.json'].map((f) => readFileSync(join(out, f)));
    });
    for (let i = 0; i < 3; i++) assert.ok(outs[0]![i]!.equals(outs[1]![i]!), `${input}: output ${i} identical across runs (and batch sizes)`);
    const summary = JSON.parse(outs[0]![2]!.toString()) as { records: number; risk_events: number; dead_lettered: Record<string, number> };
    assert.ok(summary.records > 10_000 && summary.risk_events > 500);
    if (input === 'events.ndjson') assert.ok(Object.keys(summary.dead_lettered).length >= 4, 'defective records were dead-lettered');
  }
  // The Avro file holds the same valid events as the NDJSON file without the defective ones.
  const ndjsonRisk = readFileSync(join(dir, 'events.ndjson-1', 'risk-events.ndjson'), 'utf8').split('\n').length;
  const avroRisk = readFileSync(join(dir, 'events.avro-1', 'risk-events.ndjson'), 'utf8').split('\n').length;
  assert.ok(Math.abs(ndjsonRisk - avroRisk) / ndjsonRisk < 0.2);
});

test('replay refuses contradictory flags with a clear message', () => {
  assert.throws(() => cli(['replay']), (e: Error & { stderr?: string }) => /exactly one of --input <file> or --kafka-topic/.test(e.stderr ?? ''));
  assert.throws(() => cli(['replay', '--kafka-topic', 'activity', '--workers', '2']), (e: Error & { stderr?: string }) => /--workers > 1 needs --input <file>/.test(e.stderr ?? ''));
  assert.throws(() => cli(['replay', '-i', 'x.ndjson', '--workers', '0']), (e: Error & { stderr?: string }) => /--workers must be an integer in \[1, 64\]/.test(e.stderr ?? ''));
});

test('a missing input file fails the replay with a coded error naming it, on one thread or several', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cf-replay-missing-'));
  for (const [file, workers] of [['none.ndjson', '1'], ['none.avro', '1'], ['none.ndjson', '2']] as const) {
    assert.throws(
      () => cli(['replay', '-i', join(dir, file), '-o', join(dir, 'out'), '--workers', workers]),
      (e: Error & { stderr?: string; status?: number }) => e.status === 2 && new RegExp(`CF_(INPUT_INVALID|REPLAY_WORKER).*cannot read the input file .*${file}`).test(e.stderr ?? ''),
      `${file} with ${workers} worker(s)`,
    );
  }
});

test('a pipe (/dev/stdin) is read like a file on one thread; several workers refuse it, since each reads the input whole', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cf-replay-pipe-'));
  const input = join(dir, 'events.ndjson');
  cli(['simulate', '--customers', '40', '--days', '20', '--seed', '3', '-o', input]);
  // Through a shell's pipe (node's own 'pipe' stdio is a socket, which /dev/stdin cannot be opened on).
  const viaStdin = (workers: string, out: string) =>
    execFileSync('bash', ['-c', 'cat "$1" | "$2" bin/churnflow.js replay -i /dev/stdin -o "$3" --workers "$4"', 'replay', input, process.execPath, out, workers], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  cli(['replay', '-i', input, '-o', join(dir, 'file')]);
  viaStdin('1', join(dir, 'pipe'));
  assert.ok(readFileSync(join(dir, 'pipe', 'risk-events.ndjson')).equals(readFileSync(join(dir, 'file', 'risk-events.ndjson'))), 'the same risk events as from the file');
  assert.throws(() => viaStdin('2', join(dir, 'pipe2')), (e: Error & { stderr?: string; status?: number }) => e.status === 2 && /--workers > 1 needs a regular file, each worker reads it whole; \/dev\/stdin is not/.test(e.stderr ?? ''));
});

test('an input that fails mid-file fails a parallel replay with the worker\'s coded error, exit 2, no hang', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cf-replay-broken-'));
  const rows = readFileSync('examples/file-events/export-sample.csv', 'utf8').split('\n');
  const broken = join(dir, 'broken.csv');
  writeFileSync(broken, [...rows.slice(0, 20), '2025-01-05,"broken,login', ...rows.slice(20)].join('\n'));
  for (const workers of ['1', '2']) {
    assert.throws(
      () => cli(['replay', '-c', 'examples/file-events/mapping.yaml', '-i', broken, '-o', join(dir, `out-${workers}`), '--workers', workers]),
      (e: Error & { stderr?: string; status?: number }) =>
        e.status === 2 &&
        (workers === '1' ? /churnflow: CF_INPUT_INVALID: .*not readable as CSV after record 19/ : /churnflow: CF_REPLAY_WORKER: replay worker \d of 2 failed: .*not readable as CSV after record 19.*\(CF_INPUT_INVALID\)/).test(e.stderr ?? ''),
      `${workers} worker(s)`,
    );
  }
});

test('replay --workers writes the same bytes as one thread: risk events, current risk, dead letters, summary', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cf-replay-workers-'));
  cli(['simulate', '--customers', '200', '--days', '40', '--seed', '12', '--bad-rate', '0.01', '--late-rate', '0.01', '-o', join(dir, 'events.ndjson')]);
  cli(['simulate', '--customers', '120', '--days', '30', '--seed', '13', '-o', join(dir, 'events.avro')]);
  const files = ['risk-events.ndjson', 'current-risk.ndjson', 'dead-letters.ndjson', 'summary.json'];
  const run = (input: string, workers: number, extra: string[] = []) => {
    const out = join(dir, `${input.replace(/\W/g, '_')}-${workers}-${extra.join('').replace(/\W/g, '_')}`);
    cli(['replay', '-i', input.startsWith('examples/') ? input : join(dir, input), '-o', out, '--workers', String(workers), '--batch', '256', ...extra]);
    return files.map((f) => readFileSync(join(out, f)));
  };
  const cases = [
    ['events.ndjson', 3, []],
    ['events.ndjson', 2, ['--emit', 'every']],
    ['events.avro', 2, []],
    // A user's CSV export through an input mapping: every worker reads it through the same mapping.
    ['examples/file-events/export-sample.csv', 2, ['-c', 'examples/file-events/mapping.yaml']],
  ] as const;
  for (const [input, workers, extra] of cases) {
    const one = run(input, 1, [...extra]);
    const many = run(input, workers, [...extra]);
    for (const [i, f] of files.entries()) assert.ok(one[i]!.equals(many[i]!), `${input} ${extra.join(' ')}: ${f} identical with ${workers} workers`);
    assert.ok(one[0]!.length > 10_000, `${input}: risk events were written`);
    if (input === 'events.ndjson') assert.ok(one[2]!.toString().split('\n').length > 100, 'dead letters and late events were written');
  }
});

test('a parallel replay stopped by SIGTERM writes a prefix of the full outputs and exits 0', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cf-replay-stop-'));
  const input = join(dir, 'events.ndjson');
  cli(['simulate', '--customers', '1500', '--days', '120', '--seed', '21', '--bad-rate', '0.01', '-o', input]);
  const full = join(dir, 'full');
  cli(['replay', '-i', input, '-o', full]);
  const out = join(dir, 'stopped');
  const child = spawn(process.execPath, ['bin/churnflow.js', 'replay', '-i', input, '-o', out, '--workers', '2'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // Stopped once the first outputs are written: mid-run, not before it starts.
  const risk = join(out, 'risk-events.ndjson');
  while (!(existsSync(risk) && statSync(risk).size > 0)) await sleep(20);
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  let cut = false;
  for (const f of ['risk-events.ndjson', 'current-risk.ndjson', 'dead-letters.ndjson']) {
    const part = readFileSync(join(out, f));
    const whole = readFileSync(join(full, f));
    assert.ok(whole.subarray(0, part.length).equals(part), `${f}: a prefix of the full replay's`);
    assert.ok(part.length === 0 || part[part.length - 1] === 0x0a, `${f}: whole lines`);
    if (part.length < whole.length) cut = true;
  }
  assert.ok(cut, 'the stop cut the replay short');
});
