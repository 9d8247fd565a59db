// User-declared kinds end to end: examples/daily-counts (daily counts per user and activity type
// in CSV, declared kinds in the mapping) → `churnflow snapshot` with a spec over those kinds → the
// Parquet rows hold the values worked out by hand from the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';

const cli = (args: string[]) => execFileSync(process.execPath, ['bin/churnflow.js', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const EXAMPLE = 'examples/daily-counts';
const DAY_MS = 86_400_000;
const day = (d: number) => Date.UTC(2025, 0, 1) + d * DAY_MS;

interface Row { customer_id: string; observation_time: bigint; label: number; feed_7d: number; active_rows_7d: number; search_max_7d: number; search_max_7d__missing?: number; days_since_search: number; tenure_days: number }

test('declared kinds → spec features → snapshot rows, checked by hand', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cf-user-kinds-'));
  const out = join(dir, 'snap.parquet');
  cli(['snapshot', '-c', join(EXAMPLE, 'mapping.yaml'), '--spec', join(EXAMPLE, 'spec.yaml'), '-i', join(EXAMPLE, 'counts.csv'), '-o', out, '--now', '2025-03-01', '--warmup-days', '14', '--every-days', '7', '--dead-letters', join(dir, 'dead.ndjson')]);
  const buf = readFileSync(out);
  const rows = (await parquetReadObjects({ file: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer })) as unknown as Row[];
  // The file: u1..u3 join on day 0; every day a feed count of 12000 + 100·i + d (over the built-in
  // 10,000 cap of session.content_items: a declared kind has only its declared range), a search
  // count of d + i on days divisible by 3; u2 cancels on day 30 and has no rows after it.
  // Observations every 7 days after 14 days of warm-up: days 15, 22, 29 (day 36 + 7-day horizon runs past day 41).
  assert.deepEqual(rows.map((r) => `${r.customer_id}@${(Number(r.observation_time) - day(0)) / DAY_MS}`), ['u1@15', 'u2@15', 'u3@15', 'u1@22', 'u2@22', 'u3@22', 'u1@29', 'u2@29', 'u3@29']);
  const at = (c: string, d: number) => rows.find((r) => r.customer_id === c && Number(r.observation_time) === day(d))!;
  // u1 as of day 15: the 7-day window is days 8..14.
  const u1 = at('u1', 15);
  assert.equal(u1.feed_7d, 7 * 12_100 + (8 + 9 + 10 + 11 + 12 + 13 + 14)); // 84,777
  assert.equal(u1.active_rows_7d, 7 + 2); // 7 feed rows, searches on days 9 and 12
  assert.equal(u1.search_max_7d, 12 + 1);
  assert.equal(u1.days_since_search, 15 - 12);
  assert.equal(u1.tenure_days, 15);
  // u3 as of day 22: days 15..21, searches on days 15, 18, 21.
  const u3 = at('u3', 22);
  assert.equal(u3.feed_7d, 7 * 12_300 + (15 + 16 + 17 + 18 + 19 + 20 + 21));
  assert.equal(u3.active_rows_7d, 7 + 3);
  assert.equal(u3.search_max_7d, 21 + 3);
  assert.equal(u3.days_since_search, 1);
  // Labels: u2's cancellation on day 30 falls in the horizon of day 29 only.
  assert.deepEqual(rows.map((r) => r.label), [0, 0, 0, 0, 0, 0, 0, 1, 0]);
  assert.equal(readFileSync(join(dir, 'dead.ndjson'), 'utf8'), '', 'nothing dead-lettered');
});
