// The argument check every explainer's contributions(row, offset, out) starts with: the row slice
// must lie inside the array and `out` must hold one slot per column plus the expected value.
import { ChurnflowError } from '../../errors.js';

export function checkContributionArgs(width: number, row: ArrayLike<number>, offset: number, out: ArrayLike<number>): void {
  if (out.length < width + 1) throw new ChurnflowError('CF_SCORING_FAILED', `contributions need ${width + 1} slots, got ${out.length}`);
  if (offset < 0 || offset + width > row.length) throw new ChurnflowError('CF_SCORING_FAILED', `row of ${width} columns at offset ${offset} overruns an array of ${row.length}`);
}

/** The same for contributionsBatch: `count` rows of `width` values in `rows`, count * (width + 1) slots in `out`. */
export function checkBatchArgs(width: number, rows: ArrayLike<number>, count: number, out: ArrayLike<number>): void {
  if (!(Number.isInteger(count) && count >= 0 && count * width <= rows.length && count * (width + 1) <= out.length)) {
    throw new ChurnflowError('CF_SCORING_FAILED', `a batch of ${count} rows of ${width} columns needs ${count * width} row values and ${count * (width + 1)} output slots, got ${rows.length} and ${out.length}`);
  }
}
