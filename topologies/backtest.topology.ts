// Backtest: the training-snapshot replay (point-in-time rows at observation times, labels from later
// cancellations), kept to a period and scored by each model — exactly the rows `churnflow snapshot` writes.
import { concatMap, from, type Observable } from 'rxjs';
import type { ScoringModel } from '../src/scoring/scoring-model.js';
import { trainingSnapshotTopology, type SnapshotEdges, type SnapshotOptions, type SnapshotStats } from './training-snapshot.topology.js';

export interface BacktestEdges extends SnapshotEdges {
  readonly models: readonly ScoringModel[];
}

export interface BacktestPeriod {
  /** Earliest observation time kept (epoch ms, inclusive); null = from the first. */
  readonly from: number | null;
  /** Latest observation time kept (epoch ms, inclusive); null = to the last labelled one. */
  readonly to: number | null;
}

export interface BacktestOptions extends SnapshotOptions {
  readonly period: BacktestPeriod;
  /** Rows per ONNX call. */
  readonly scoreBatchSize: number;
}

export interface BacktestRow {
  readonly customerId: string;
  readonly observationTime: number;
  readonly label: 0 | 1;
}

export interface BacktestScores {
  readonly rows: BacktestRow[];
  readonly labels: Uint8Array;
  /** One array per model, in the order of `edges.models`, aligned with `rows`. */
  readonly scores: Float64Array[];
  readonly stats: SnapshotStats;
  /** Labelled rows whose observation time lies outside the period. */
  readonly outsidePeriod: number;
}

export function backtestTopology(edges: BacktestEdges, options: BacktestOptions): Observable<BacktestScores> {
  const { from: start, to: end } = options.period;
  const inPeriod = (t: number) => (start === null || t >= start) && (end === null || t <= end);
  return trainingSnapshotTopology(edges, options).pipe(
    concatMap((snapshot) =>
      from(
        (async (): Promise<BacktestScores> => {
          const kept = snapshot.rows.filter((r) => inPeriod(r.observationTime));
          const scores: Float64Array[] = [];
          for (const model of edges.models) {
            const out = new Float64Array(kept.length);
            for (let i = 0; i < kept.length; i += options.scoreBatchSize) {
              const batch = kept.slice(i, i + options.scoreBatchSize);
              out.set(await model.scoreFeatures(batch.map((r) => r.features)), i);
            }
            scores.push(out);
          }
          return {
            rows: kept.map((r) => ({ customerId: r.customerId, observationTime: r.observationTime, label: r.label === 1 ? 1 : 0 })),
            labels: Uint8Array.from(kept, (r) => (r.label === 1 ? 1 : 0)),
            scores,
            stats: snapshot.stats,
            outsidePeriod: snapshot.rows.length - kept.length,
          };
        })(),
      ),
    ),
  );
}
