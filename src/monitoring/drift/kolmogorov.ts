// Survival function of the limiting Kolmogorov distribution, Q(λ) = P(√n·D > λ) as n → ∞
// (scipy.stats.kstwobign.sf). Two series, each used where it converges in a few terms:
//   λ < 1.18:  1 − (√(2π)/λ) Σ_{k≥1} exp(−(2k−1)² π² / (8λ²))
//   otherwise: 2 Σ_{k≥1} (−1)^{k−1} exp(−2 k² λ²)   (keeps full relative precision for tiny p)
// Written here rather than taken from a package: ~20 lines, checked against scipy in
// test/parity/monitoring-reference.test.ts, and no new dependency for the engine.

export function kolmogorovSurvival(lambda: number): number {
  if (!(lambda > 0)) return 1;
  if (lambda < 1.18) {
    const a = (Math.PI * Math.PI) / (8 * lambda * lambda);
    let s = 0;
    for (let k = 1; k < 100; k++) {
      const term = Math.exp(-(2 * k - 1) * (2 * k - 1) * a);
      s += term;
      if (term < 1e-18 * s) break;
    }
    return Math.min(1, Math.max(0, 1 - (Math.sqrt(2 * Math.PI) / lambda) * s));
  }
  let s = 0;
  let sign = 1;
  for (let k = 1; k < 100; k++) {
    const term = Math.exp(-2 * k * k * lambda * lambda);
    s += sign * term;
    if (term < 1e-18 * Math.abs(s)) break;
    sign = -sign;
  }
  return Math.min(1, Math.max(0, 2 * s));
}
