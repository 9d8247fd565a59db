// Snapshots with a labels file (exactly the listed rows, point-in-time), streamed to Parquet in row
// groups, and the counts that replace silent drops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetMetadata, parquetReadObjects } from 'hyparquet';
import { DAY_MS } from '../../src/events/activity-event.js';
import type { ActivityEventJson } from '../../src/events/wire-types.js';
import { ChurnflowError } from '../../src/errors.js';
import { compileSpec } from '../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../src/features/default-churn-spec.js';
import { ParquetSnapshotWriter, type SnapshotRow } from '../../src/sinks/parquet-snapshot-writer.js';
import { readLabelFile } from '../../src/sources/label-file.js';
import { simulate, simulationEndTime, resolveSimulatorOptions } from '../../src/simulator/index.js';
import { runSnapshot } from '../helpers/run-snapshot.js';

const spec = compileSpec(DEFAULT_CHURN_SPEC, { allowedLatenessMs: 3_600_000 });
const sim = resolveSimulatorOptions({ customers: 120, days: 84, seed: 23 });
const events: ActivityEventJson[] = [];
for (const r of simulate(sim)) if (r.type === 'event') events.push(r.event);
const now = simulationEndTime(sim);
const work = mkdtempSync(join(tmpdir(), 'cf-snap-labels-'));
const key = (r: { customerId: string; observationTime: number }) => `${r.customerId}@${r.observationTime}`;

test('a labels file gets exactly its rows: the grid row of the same customer and day, the file’s label and group', async () => {
  const grid = await runSnapshot(events, spec, now);
  const gridRows = grid.rows.filter((r, i) => i % 3 === 0).slice(0, 120);
  assert.ok(gridRows.length >= 60, `grid rows picked: ${gridRows.length}`);
  // The listed times are mid-day: features are taken at the start of that UTC day, like the grid's.
  const lines = ['customer_id,observation_time,label,group'];
  gridRows.forEach((r, i) => lines.push(`${r.customerId},${new Date(r.observationTime + 15 * 3_600_000).toISOString()},${1 - r.label},g${i % 4}`));
  lines.push(`${gridRows[0]!.customerId},${new Date(gridRows[0]!.observationTime).toISOString()},,g9`); // no label: counted, not written
  lines.push(`nobody-at-all,${new Date(gridRows[0]!.observationTime).toISOString()},1,g9`); // no history: written, counted
  const file = join(work, 'labels.csv');
  writeFileSync(file, lines.join('\n') + '\n');
  const labels = readLabelFile(file);
  const listed = await runSnapshot(events, spec, now, { labels });

  assert.equal(listed.rows.length, gridRows.length + 1);
  assert.equal(listed.stats.labelsWithoutLabel, 1);
  assert.equal(listed.stats.labelsWithoutHistory, 1);
  const byKey = new Map(listed.rows.map((r) => [`${r.customerId}@${Math.floor(r.observationTime / DAY_MS) * DAY_MS}`, r]));
  gridRows.forEach((g, i) => {
    const r = byKey.get(key(g));
    assert.ok(r, `row ${key(g)}`);
    assert.deepEqual([...r.features], [...g.features], `features of ${key(g)}`);
    assert.equal(r.label, 1 - g.label, 'the file’s label, not the spec’s');
    assert.equal(r.group, `g${i % 4}`);
    assert.equal(r.observationTime, g.observationTime + 15 * 3_600_000, 'the time as listed');
  });
});

test('labels mode is point-in-time: events after an observation day change none of its rows', async () => {
  const t = Date.UTC(2025, 1, 10);
  const customers = [...new Set(events.map((e) => e.customer_id))].slice(0, 40);
  const file = join(work, 'pit.ndjson');
  writeFileSync(file, customers.map((c, i) => JSON.stringify({ customer_id: c, observation_time: t + (i % 5) * 3_600_000, label: i % 2 })).join('\n') + '\n');
  const labels = readLabelFile(file);
  const base = await runSnapshot(events, spec, now, { labels });
  const perturbed = events.flatMap((e) => (e.event_time < t ? [e] : e.kind === 'login' ? [] : [e, { ...e, event_id: `${e.event_id}-dup2`, event_time: e.event_time + 1 }]));
  const changed = await runSnapshot(perturbed, spec, now, { labels });
  assert.deepEqual(changed.rows.map((r) => [r.customerId, [...r.features]]), base.rows.map((r) => [r.customerId, [...r.features]]));
  // The same customers a week later do see the perturbation (the comparison can fail).
  const later = readLabelFile(writeNdjson('later.ndjson', customers.map((c) => ({ customer_id: c, observation_time: t + 7 * DAY_MS, label: 0 }))));
  const a = await runSnapshot(events, spec, now, { labels: later });
  const b = await runSnapshot(perturbed, spec, now, { labels: later });
  assert.notDeepEqual(a.rows.map((r) => [...r.features]), b.rows.map((r) => [...r.features]));
});

test('grid rows stream to Parquet in row groups; the file reads back as the rows, in order', async () => {
  const collected = await runSnapshot(events, spec, now);
  const path = join(work, 'grid.parquet');
  const writer = new ParquetSnapshotWriter(path, spec, { groups: false, rowGroupRows: 97 });
  const streamed = await runSnapshot(events, spec, now, { everyDays: 7, warmupDays: 14 }, writer);
  assert.equal(streamed.rows.length, 0, 'rows went to the sink');
  assert.equal(streamed.stats.rows, collected.rows.length);
  writer.close({ observation: {}, source: {}, dropped: { horizon_past_data_end: streamed.stats.unlabelledRows } });
  const file = await asyncBufferFromFile(path);
  const meta = parquetMetadata(await file.slice(0));
  assert.equal(meta.row_groups.length, Math.ceil(collected.rows.length / 97), 'one row group per 97 rows');
  const read = (await parquetReadObjects({ file })) as Record<string, unknown>[];
  assert.equal(read.length, collected.rows.length);
  read.forEach((o, i) => {
    const r: SnapshotRow = collected.rows[i]!;
    assert.equal(o.customer_id, r.customerId);
    assert.equal(Number(o.observation_time), r.observationTime);
    assert.equal(o.label, r.label);
    spec.columns.forEach((c, j) => assert.equal(o[c.name] ?? Number.NaN, Number.isNaN(r.features[j]!) ? Number.NaN : r.features[j]));
  });
  const metaJson = JSON.parse(readFileSync(join(work, 'grid.meta.json'), 'utf8')) as { rows: number; dropped: Record<string, number> };
  assert.equal(metaJson.rows, collected.rows.length);
  assert.equal(metaJson.dropped.horizon_past_data_end, streamed.stats.unlabelledRows);
});

test('a spec without signup observes customers from their first event; a snapshot with no rows is an error', async () => {
  const { signup: _s, ...noSignup } = DEFAULT_CHURN_SPEC;
  const spec2 = compileSpec({ ...noSignup, name: 'no_signup' }, { allowedLatenessMs: 3_600_000 });
  const rows = await runSnapshot(events, spec2, now);
  assert.ok(rows.rows.length > 0, 'rows without a signup source');
  await assert.rejects(
    () => runSnapshot(events.slice(0, 200), spec, now, { everyDays: 7, warmupDays: 365 }),
    (e: unknown) => e instanceof ChurnflowError && e.code === 'CF_SNAPSHOT_EMPTY' && /data ends before the first observation/.test(e.message),
  );
});

test('labels files: bad rows name the line and the column', () => {
  const bad = (text: string, re: RegExp) => {
    const path = join(work, `bad-${Math.random().toString(36).slice(2)}.csv`);
    writeFileSync(path, text);
    assert.throws(() => readLabelFile(path), (e: unknown) => e instanceof ChurnflowError && e.code === 'CF_INPUT_INVALID' && re.test(e.message));
  };
  bad('customer_id,observation_time,label\nc1,yesterday,1\n', /line 2: observation_time must be/);
  bad('customer_id,observation_time,label\nc1,2025-01-01,yes\n', /line 2: label must be 0, 1/);
  bad('observation_time,label\n2025-01-01,1\n', /line 2: customer_id is required/);
  bad('customer_id,observation_time,label\n', /has no rows/);
});

function writeNdjson(name: string, rows: readonly object[]): string {
  const path = join(work, name);
  writeFileSync(path, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return path;
}
