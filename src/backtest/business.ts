// The campaign at a threshold: contact everyone scoring at or above it; the trainer's arithmetic,
// net = TP · save_rate · churner_loss − contacted · contact_cost.
import { ChurnflowError } from '../errors.js';
import { countsAt, type RankedCounts } from './ranked-counts.js';

export interface Costs {
  readonly contactCost: number;
  readonly churnerLoss: number;
  readonly saveRate: number;
}

export interface BusinessRow {
  readonly threshold: number;
  readonly contacted: number;
  readonly churnersCaught: number;
  /** churnersCaught · saveRate. */
  readonly expectedSaved: number;
  /** contacted · contactCost. */
  readonly campaignCost: number;
  /** expectedSaved · churnerLoss. */
  readonly revenueSaved: number;
  /** revenueSaved − campaignCost. */
  readonly netValue: number;
  /** netValue / campaignCost; null when nobody is contacted. */
  readonly roi: number | null;
  readonly precision: number;
  readonly recall: number;
}

export function checkCosts(costs: Costs): void {
  if (!(costs.contactCost > 0)) throw new ChurnflowError('CF_INPUT_INVALID', `contact cost must be > 0, got ${costs.contactCost}`);
  if (!(costs.churnerLoss > 0)) throw new ChurnflowError('CF_INPUT_INVALID', `churner loss must be > 0, got ${costs.churnerLoss}`);
  if (!(costs.saveRate > 0 && costs.saveRate <= 1)) throw new ChurnflowError('CF_INPUT_INVALID', `save rate must be in (0, 1], got ${costs.saveRate}`);
}

export function businessAt(ranked: RankedCounts, threshold: number, costs: Costs): BusinessRow {
  const { tp, fp } = countsAt(ranked, threshold);
  const contacted = tp + fp;
  const expectedSaved = tp * costs.saveRate;
  const revenueSaved = expectedSaved * costs.churnerLoss;
  const campaignCost = contacted * costs.contactCost;
  const netValue = revenueSaved - campaignCost;
  return {
    threshold,
    contacted,
    churnersCaught: tp,
    expectedSaved,
    campaignCost,
    revenueSaved,
    netValue,
    roi: campaignCost === 0 ? null : netValue / campaignCost,
    precision: contacted === 0 ? 0 : tp / contacted,
    recall: ranked.positives === 0 ? 0 : tp / ranked.positives,
  };
}

/** Thresholds step, 2·step, … below 1, written as i / steps so they print as 0.07, not 0.07000000000000001. */
export function thresholdGrid(step: number): number[] {
  const steps = Math.round(1 / step);
  if (!(steps >= 2 && steps <= 10_000) || Math.abs(steps * step - 1) > 1e-9) {
    throw new ChurnflowError('CF_INPUT_INVALID', `the threshold grid step must divide 1 into 2..10000 parts (e.g. 0.01), got ${step}`);
  }
  return Array.from({ length: steps - 1 }, (_, i) => (i + 1) / steps);
}

/** The grid row with the highest net value; ties go to the higher threshold (fewer contacts), as the trainer's tuning. */
export function bestRow(rows: readonly BusinessRow[]): BusinessRow | null {
  let best: BusinessRow | null = null;
  for (const r of rows) if (best === null || r.netValue > best.netValue || (r.netValue === best.netValue && r.threshold > best.threshold)) best = r;
  return best;
}
