// Lift by score decile: rank rows by score, cut them into ten equal-size groups (decile 1 = the
// riskiest tenth) and compare each group's churn rate with the overall rate.
import { checkLabelsAndScores } from './ranked-counts.js';

export interface LiftRow {
  /** 1 = the highest scores. */
  readonly decile: number;
  readonly rows: number;
  readonly minScore: number | null;
  readonly maxScore: number | null;
  readonly churners: number;
  readonly churnRate: number | null;
  /** churnRate / overall churn rate; null without churners overall. */
  readonly lift: number | null;
  /** Share of all churners found in deciles 1..this one. */
  readonly cumulativeCapture: number | null;
  /** Churn rate of deciles 1..this one over the overall rate. */
  readonly cumulativeLift: number | null;
}

/**
 * Decile d (1-based) holds ranks [floor((d−1)·n/10), floor(d·n/10)) of the rows sorted by score,
 * highest first. Equal scores that straddle a cut are split by row order (the sort is stable), so a
 * decile is always a tenth of the rows; with many ties, read the min/max score columns.
 */
export function liftByDecile(labels: ArrayLike<number>, scores: ArrayLike<number>, groups = 10): LiftRow[] {
  checkLabelsAndScores(labels, scores);
  const n = labels.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  let totalChurners = 0;
  for (let i = 0; i < n; i++) totalChurners += labels[i]!;
  const overall = n === 0 ? 0 : totalChurners / n;
  const out: LiftRow[] = [];
  let cumRows = 0;
  let cumChurners = 0;
  for (let d = 0; d < groups; d++) {
    const start = Math.floor((d * n) / groups);
    const end = Math.floor(((d + 1) * n) / groups);
    let churners = 0;
    for (let k = start; k < end; k++) churners += labels[order[k]!]!;
    const rows = end - start;
    cumRows += rows;
    cumChurners += churners;
    const rate = rows === 0 ? null : churners / rows;
    out.push({
      decile: d + 1,
      rows,
      minScore: rows === 0 ? null : scores[order[end - 1]!]!,
      maxScore: rows === 0 ? null : scores[order[start]!]!,
      churners,
      churnRate: rate,
      lift: rate === null || overall === 0 ? null : rate / overall,
      cumulativeCapture: totalChurners === 0 ? null : cumChurners / totalChurners,
      cumulativeLift: cumRows === 0 || overall === 0 ? null : cumChurners / cumRows / overall,
    });
  }
  return out;
}
