// Average precision (the area under the precision–recall curve as scikit-learn's
// average_precision_score defines it) from positives and negatives per score bin:
//   AP = Σ_k (R_k − R_{k−1}) · P_k over thresholds from the highest bin down,
// each bin one threshold (its scores tie). NaN without positives.

export function averagePrecision(positives: ArrayLike<number>, negatives: ArrayLike<number>): number {
  let totalPos = 0;
  for (let i = 0; i < positives.length; i++) totalPos += positives[i]!;
  if (totalPos <= 0) return Number.NaN;
  let tp = 0;
  let fp = 0;
  let ap = 0;
  for (let i = positives.length - 1; i >= 0; i--) {
    const p = positives[i]!;
    const n = negatives[i]!;
    if (p + n === 0) continue;
    tp += p;
    fp += n;
    ap += (p / totalPos) * (tp / (tp + fp));
  }
  return ap;
}
