// Writes a point-in-time training set as Parquet (hyparquet-writer: maintained, pure JS, no native
// build) plus the .meta.json the trainer reads (docs/formats.md).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { CompiledSpec } from '../features/compile-spec.js';

export interface SnapshotRow {
  readonly customerId: string;
  readonly observationTime: number;
  readonly label: 0 | 1;
  readonly features: Float64Array;
}

export interface SnapshotMeta {
  readonly observation: { every_days: number; warmup_days: number; first: number | null; last: number | null };
  readonly source: Record<string, unknown>;
}

export function writeSnapshot(path: string, rows: readonly SnapshotRow[], spec: CompiledSpec, meta: SnapshotMeta): { rows: number; positives: number } {
  mkdirSync(dirname(path), { recursive: true });
  const columnData = [
    { name: 'customer_id', data: rows.map((r) => r.customerId), type: 'STRING' as const },
    { name: 'observation_time', data: rows.map((r) => BigInt(r.observationTime)), type: 'INT64' as const },
    { name: 'label', data: rows.map((r) => r.label), type: 'INT32' as const },
    ...spec.columns.map((c, j) => ({
      name: c.name,
      data: rows.map((r) => {
        const v = r.features[j]!;
        return Number.isNaN(v) ? null : v;
      }),
      type: 'DOUBLE' as const,
    })),
  ];
  const buf = parquetWriteBuffer({ columnData, createdBy: 'churnflow snapshot' });
  writeFileSync(path, Buffer.from(buf));
  const positives = rows.reduce((n, r) => n + r.label, 0);
  const metaJson = {
    format: 'churnflow.snapshot/v1',
    feature_spec_hash: spec.hash,
    feature_spec: spec.spec,
    features: spec.columns.map((c) => ({ name: c.name, missing_indicator: c.missingIndicator, kind: c.kind })),
    label: {
      definition: `${spec.spec.label.event}${spec.spec.label.where ? ` where ${spec.spec.label.where.field} in ${JSON.stringify(spec.spec.label.where.in)}` : ''} within horizon`,
      horizon_days: spec.spec.label.horizonDays,
    },
    observation: meta.observation,
    rows: rows.length,
    positives,
    source: meta.source,
  };
  writeFileSync(metaPathFor(path), `${JSON.stringify(metaJson, null, 2)}\n`);
  return { rows: rows.length, positives };
}

export function metaPathFor(parquetPath: string): string {
  return parquetPath.replace(/\.parquet$/, '') + '.meta.json';
}
