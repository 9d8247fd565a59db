// Which reference bin a value falls in. k inner edges give k+1 bins (-inf, e0], (e0, e1], …,
// (e_{k-1}, +inf): the trainer's cut (numpy searchsorted, side='left'), so both sides bin alike.
export function binIndex(edges: ArrayLike<number>, v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v > edges[mid]!) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function sum(xs: ArrayLike<number>, from = 0, to = xs.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += xs[i]!;
  return s;
}

/**
 * Share of a binned distribution above `x`, interpolating linearly inside the bin that holds x. The
 * outer bins are unbounded, so `low` and `high` close them (scores: 0 and 1).
 */
export function shareAbove(edges: ArrayLike<number>, shares: ArrayLike<number>, x: number, low: number, high: number): number {
  const b = binIndex(edges, x);
  let above = sum(shares, b + 1);
  const lo = b === 0 ? low : edges[b - 1]!;
  const hi = b < edges.length ? edges[b]! : high;
  const width = hi - lo;
  // (lo, hi]: the part of the bin at or above x; a degenerate bin counts whole.
  const part = width > 0 ? Math.min(1, Math.max(0, (hi - x) / width)) : 1;
  above += (shares[b] ?? 0) * part;
  return above;
}

/** Sum of a window's live counts and of the reference shares over the same k bins. */
export function liveAndReferenceTotals(liveCounts: ArrayLike<number>, referenceShares: ArrayLike<number>): { n: number; total: number } {
  let n = 0;
  let total = 0;
  for (let i = 0; i < referenceShares.length; i++) {
    n += liveCounts[i] ?? 0;
    total += referenceShares[i]!;
  }
  return { n, total };
}
