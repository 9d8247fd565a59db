// Gauss–Legendre quadrature on [0, 1]: n points integrate every polynomial of degree ≤ 2n − 1
// exactly, which is what makes Linear TreeSHAP exact (tree-shap.ts): a Shapley weight sum over a
// path of d features is the integral over [0, 1] of a polynomial of degree d − 1.

export interface Quadrature {
  /** Points in (0, 1), ascending. */
  readonly t: Float64Array;
  /** Their weights (positive, summing to 1). */
  readonly w: Float64Array;
}

/** The n-point rule (n ≥ 1): Newton's method on the Legendre polynomial P_n from the usual cosine guesses. */
export function gaussLegendre01(n: number): Quadrature {
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new RangeError(`Gauss-Legendre needs 1..64 points, got ${n}`);
  const t = new Float64Array(n);
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let x = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    let dp = 1;
    for (let iter = 0; iter < 100; iter++) {
      // P_n(x) and P_{n-1}(x) by the three-term recurrence.
      let p0 = 1;
      let p1 = x;
      for (let j = 2; j <= n; j++) {
        const p2 = ((2 * j - 1) * x * p1 - (j - 1) * p0) / j;
        p0 = p1;
        p1 = p2;
      }
      dp = (n * (x * p1 - p0)) / (x * x - 1);
      const dx = p1 / dp;
      x -= dx;
      if (Math.abs(dx) < 1e-16) break;
    }
    // x runs from near 1 down to near -1: t = (1 - x) / 2 ascends.
    t[i] = (1 - x) / 2;
    w[i] = 1 / ((1 - x * x) * dp * dp);
  }
  return { t, w };
}
