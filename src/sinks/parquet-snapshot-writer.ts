// Writes a point-in-time training set as Parquet (hyparquet-writer: maintained, pure JS, no native
// build) plus the .meta.json the trainer reads (docs/formats.md). Rows stream in: every
// `rowGroupRows` rows become one row group on disk, so memory holds one row group, not the set.
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ParquetWriter, fileWriter, schemaFromColumnData, type ColumnSource } from 'hyparquet-writer';
import type { CompiledSpec } from '../features/compile-spec.js';

export interface SnapshotRow {
  readonly customerId: string;
  readonly observationTime: number;
  readonly label: 0 | 1;
  readonly features: Float64Array;
  /** The labels file's group (cohort, course, region), for group splits; absent on the grid. */
  readonly group?: string | null;
}

/** Where a snapshot's rows go as they are labelled (in observation order). */
export interface SnapshotRowSink {
  write(rows: readonly SnapshotRow[]): Promise<void> | void;
}

export interface SnapshotMeta {
  readonly observation: Record<string, unknown>;
  readonly source: Record<string, unknown>;
  /** Counts of rows not written and why (docs/formats.md). */
  readonly dropped?: Record<string, number>;
  /** Where labels came from when not the spec's label event (a labels file). */
  readonly label?: Record<string, unknown>;
}

export interface SnapshotWriterOptions {
  /** Write a `group` column (a labels file with groups). */
  readonly groups: boolean;
  readonly rowGroupRows?: number;
}

export class ParquetSnapshotWriter implements SnapshotRowSink {
  private readonly writer: ParquetWriter;
  private readonly tmpPath: string;
  private buffer: SnapshotRow[] = [];
  private rowCount = 0;
  private positiveCount = 0;
  private readonly rowGroupRows: number;

  constructor(
    private readonly path: string,
    private readonly spec: CompiledSpec,
    private readonly options: SnapshotWriterOptions,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    // Written beside the target and renamed at close: a failed run leaves no half file under the name.
    this.tmpPath = `${path}.partial`;
    this.rowGroupRows = options.rowGroupRows ?? 50_000;
    this.writer = new ParquetWriter({ writer: fileWriter(this.tmpPath), schema: schemaFromColumnData({ columnData: this.columns([]) }), createdBy: 'churnflow snapshot' });
  }

  get rows(): number {
    return this.rowCount;
  }

  get positives(): number {
    return this.positiveCount;
  }

  write(rows: readonly SnapshotRow[]): void {
    for (const r of rows) {
      this.buffer.push(r);
      this.rowCount++;
      this.positiveCount += r.label;
      if (this.buffer.length >= this.rowGroupRows) this.flush();
    }
  }

  /** Writes the last row group, the footer and the .meta.json; the Parquet file appears under its name. */
  close(meta: SnapshotMeta): { rows: number; positives: number } {
    this.flush();
    this.writer.finish();
    renameSync(this.tmpPath, this.path);
    writeFileSync(metaPathFor(this.path), `${JSON.stringify(snapshotMetaJson(this.spec, meta, this.rowCount, this.positiveCount), null, 2)}\n`);
    return { rows: this.rowCount, positives: this.positiveCount };
  }

  /** Drops the partial file (a failed run). */
  abort(): void {
    rmSync(this.tmpPath, { force: true });
  }

  private flush(): void {
    if (this.buffer.length === 0) return;
    this.writer.write({ columnData: this.columns(this.buffer), rowGroupSize: this.buffer.length });
    this.buffer = [];
  }

  private columns(rows: readonly SnapshotRow[]): ColumnSource[] {
    return [
      { name: 'customer_id', data: rows.map((r) => r.customerId), type: 'STRING' },
      { name: 'observation_time', data: rows.map((r) => BigInt(r.observationTime)), type: 'INT64' },
      { name: 'label', data: rows.map((r) => r.label), type: 'INT32' },
      ...(this.options.groups ? [{ name: 'group', data: rows.map((r) => r.group ?? null), type: 'STRING' as const, nullable: true }] : []),
      ...this.spec.columns.map((c, j) => ({
        name: c.name,
        data: rows.map((r) => {
          const v = r.features[j]!;
          return Number.isNaN(v) ? null : v;
        }),
        type: 'DOUBLE' as const,
        nullable: true,
      })),
    ];
  }
}

/** Writes a whole set at once (tests, small sets): the streaming writer with every row in hand. */
export function writeSnapshot(path: string, rows: readonly SnapshotRow[], spec: CompiledSpec, meta: SnapshotMeta): { rows: number; positives: number } {
  const writer = new ParquetSnapshotWriter(path, spec, { groups: rows.some((r) => r.group != null) });
  writer.write(rows);
  return writer.close(meta);
}

function snapshotMetaJson(spec: CompiledSpec, meta: SnapshotMeta, rows: number, positives: number): Record<string, unknown> {
  return {
    format: 'churnflow.snapshot/v1',
    feature_spec_hash: spec.hash,
    feature_spec: spec.spec,
    features: spec.columns.map((c) => ({ name: c.name, missing_indicator: c.missingIndicator, kind: c.kind })),
    label: meta.label ?? {
      definition: `${spec.spec.label.event}${spec.spec.label.where ? ` where ${spec.spec.label.where.field} in ${JSON.stringify(spec.spec.label.where.in)}` : ''} within horizon`,
      horizon_days: spec.spec.label.horizonDays,
    },
    observation: meta.observation,
    rows,
    positives,
    ...(meta.dropped ? { dropped: meta.dropped } : {}),
    source: meta.source,
  };
}

export function metaPathFor(parquetPath: string): string {
  return parquetPath.replace(/\.parquet$/, '') + '.meta.json';
}
