// The backtest report as data: what was replayed, the costs, each model's evaluation and the
// comparison. report.json is this object (keys in snake_case); report.html draws it.
import { ChurnflowError } from '../errors.js';
import { thresholdGrid, type Costs } from './business.js';
import { compareModels, type Comparison } from './compare-models.js';
import { evaluateModel, type ModelEvaluation, type ModelIdentity } from './evaluate-model.js';
import { formatDate } from './format-number.js';
import { summarize } from './summary.js';

export const REPORT_FORMAT = 'churnflow.backtest/v1';

export interface BacktestData {
  /** Where the history came from: the simulator's options or the input file. */
  readonly source: Readonly<Record<string, unknown>>;
  readonly featureSpec: { readonly name: string; readonly hash: string };
  readonly horizonDays: number;
  /** The requested period (inclusive observation dates), null = open. */
  readonly period: { readonly from: string | null; readonly to: string | null };
  readonly observations: { readonly everyDays: number; readonly warmupDays: number; readonly labelsFile?: string; readonly first: string | null; readonly last: string | null; readonly dates: number };
  readonly rows: number;
  readonly customers: number;
  readonly churners: number;
  readonly churnRate: number | null;
  readonly replay: {
    readonly records: number;
    readonly applied: number;
    readonly deadLettered: number;
    readonly late: number;
    readonly beforeSignup: number;
    /** Rows whose horizon runs past the data (label unknown), dropped. */
    readonly unlabelledRows: number;
    /** Labelled rows outside the requested period, dropped. */
    readonly rowsOutsidePeriod: number;
  };
}

export interface BacktestReport {
  readonly format: typeof REPORT_FORMAT;
  /** Only when pinned by the caller (--generated-at), so that two runs produce identical files. */
  readonly generatedAt: string | null;
  readonly summary: string[];
  readonly data: BacktestData;
  readonly costs: Costs & { readonly source: string };
  readonly thresholdGridStep: number;
  readonly models: ModelEvaluation[];
  readonly comparison: Comparison;
}

export interface ReportInput {
  readonly rows: readonly { readonly customerId: string; readonly observationTime: number }[];
  readonly labels: Uint8Array;
  /** Per model, aligned with rows. */
  readonly scores: readonly Float64Array[];
  readonly models: readonly ModelIdentity[];
  readonly costs: Costs;
  readonly costsSource: string;
  readonly gridStep: number;
  readonly data: Omit<BacktestData, 'rows' | 'customers' | 'churners' | 'churnRate' | 'observations'> & {
    readonly observations: { readonly everyDays: number; readonly warmupDays: number; readonly labelsFile?: string };
  };
  readonly generatedAt: string | null;
}

export const CALIBRATION_BINS = 10;
export const HISTOGRAM_BINS = 50;

export function buildBacktestReport(input: ReportInput): BacktestReport {
  if (input.models.length === 0) throw new ChurnflowError('CF_INPUT_INVALID', 'a backtest needs at least one model');
  if (input.scores.length !== input.models.length) throw new ChurnflowError('CF_INPUT_INVALID', `${input.models.length} models but ${input.scores.length} score arrays`);
  if (input.rows.length === 0) throw new ChurnflowError('CF_INPUT_INVALID', 'no labelled rows to backtest: widen the period or replay more history (rows need a full label horizon after their observation time)');
  const grid = thresholdGrid(input.gridStep);
  const settings = { costs: input.costs, grid, calibrationBins: CALIBRATION_BINS, histogramBins: HISTOGRAM_BINS, histogramUpper: 1 };
  const models = input.models.map((m, i) => evaluateModel(m, input.labels, input.scores[i]!, settings));
  const times = [...new Set(input.rows.map((r) => r.observationTime))].sort((a, b) => a - b);
  let churners = 0;
  for (const y of input.labels) churners += y;
  const data: BacktestData = {
    ...input.data,
    observations: { ...input.data.observations, first: formatDate(times[0]), last: formatDate(times[times.length - 1]), dates: times.length },
    rows: input.rows.length,
    customers: new Set(input.rows.map((r) => r.customerId)).size,
    churners,
    churnRate: churners / input.rows.length,
  };
  const comparison = compareModels(models);
  return {
    format: REPORT_FORMAT,
    generatedAt: input.generatedAt,
    summary: summarize(data, models, comparison),
    data,
    costs: { ...input.costs, source: input.costsSource },
    thresholdGridStep: input.gridStep,
    models,
    comparison,
  };
}
