// Score distribution of churners and non-churners: the share of each group per equal-width score
// bin, so two groups of very different size can be drawn on one axis.
import { checkLabelsAndScores } from './ranked-counts.js';

export interface ScoreHistogram {
  /** bins + 1 edges from 0 to `upper`; the last bin also holds every score above `upper`. */
  readonly edges: number[];
  readonly churners: number[];
  readonly nonChurners: number[];
  /** Shares of each group per bin (sum to 1 over a non-empty group). */
  readonly churnerShare: number[];
  readonly nonChurnerShare: number[];
}

export function scoreHistogram(labels: ArrayLike<number>, scores: ArrayLike<number>, bins: number, upper: number): ScoreHistogram {
  checkLabelsAndScores(labels, scores);
  const width = upper / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? upper : i * width));
  const churners = new Array<number>(bins).fill(0);
  const nonChurners = new Array<number>(bins).fill(0);
  for (let i = 0; i < scores.length; i++) {
    const b = Math.min(bins - 1, Math.max(0, Math.floor(scores[i]! / width)));
    if (labels[i] === 1) churners[b]!++;
    else nonChurners[b]!++;
  }
  const share = (counts: number[]) => {
    const total = counts.reduce((a, b) => a + b, 0);
    return counts.map((c) => (total === 0 ? 0 : c / total));
  };
  return { edges, churners, nonChurners, churnerShare: share(churners), nonChurnerShare: share(nonChurners) };
}
