// `churnflow score-all --input`: every customer with history before the as-of time gets one score,
// equal to scoring its point-in-time feature row directly; ids are stable across reruns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RiskEventRecord } from '../../src/events/wire-types.js';

const cli = (args: string[]) => execFileSync(process.execPath, ['bin/churnflow.js', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const read = (p: string) => readFileSync(p, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as RiskEventRecord);

test('score-all scores every customer once as of the given time, reproducibly', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cf-scoreall-'));
  cli(['simulate', '--customers', '120', '--days', '40', '--seed', '5', '-o', join(dir, 'events.ndjson')]);
  const asOf = '2025-01-25';
  cli(['score-all', '--as-of', asOf, '-i', join(dir, 'events.ndjson'), '-o', join(dir, 'a.ndjson'), '--chunk', '7']);
  cli(['score-all', '--as-of', asOf, '-i', join(dir, 'events.ndjson'), '-o', join(dir, 'b.ndjson'), '--chunk', '1000']);
  const a = read(join(dir, 'a.ndjson'));
  assert.ok(a.length >= 90 && a.length <= 120, `customers scored: ${a.length}`);
  assert.equal(new Set(a.map((r) => r.customer_id)).size, a.length, 'each customer once');
  assert.ok(a.every((r) => r.event_time === Date.parse(`${asOf}T00:00:00Z`) && r.score >= 0 && r.score <= 1));
  const byCustomer = (rs: RiskEventRecord[]) => new Map(rs.map((r) => [r.customer_id, r]));
  assert.deepEqual(byCustomer(read(join(dir, 'b.ndjson'))), byCustomer(a), 'chunk size does not change scores or ids');
  // Point in time: history after the as-of time cannot change a score as of it. Cut the same history at
  // the as-of time and score again: every score must agree.
  const cut = readFileSync(join(dir, 'events.ndjson'), 'utf8')
    .trim()
    .split('\n')
    .filter((l) => (JSON.parse(l) as { event_time: number }).event_time < Date.parse(`${asOf}T00:00:00Z`));
  writeFileSync(join(dir, 'cut.ndjson'), `${cut.join('\n')}\n`);
  cli(['score-all', '--as-of', asOf, '-i', join(dir, 'cut.ndjson'), '-o', join(dir, 'c.ndjson')]);
  const c = byCustomer(read(join(dir, 'c.ndjson')));
  for (const r of a) assert.equal(c.get(r.customer_id)?.score, r.score, r.customer_id);
});
