// Population stability index of live bin counts against reference bin shares.
//   PSI = Σ (p_i − q_i) · ln(p_i / q_i)
// An empty bin (p_i or q_i = 0) would make a term infinite; its share is replaced by PSI_EPSILON
// (no renormalisation, the common convention). An empty live bin whose reference share is q then adds
// at most q·ln(q/ε) — 0.69 for q = 0.1 — which, with at least minSamples values, is real drift; a
// category the reference never saw (q = 0, e.g. a new plan) adds p·ln(p/ε), 2.4 at p = 0.3.

export const PSI_EPSILON = 1e-4;

/** NaN when there are no live values. `live` holds counts, `reference` shares (summing to 1). */
export function psi(live: ArrayLike<number>, reference: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < reference.length; i++) n += live[i] ?? 0;
  if (n <= 0) return Number.NaN;
  let s = 0;
  for (let i = 0; i < reference.length; i++) {
    const p = Math.max((live[i] ?? 0) / n, 0) || PSI_EPSILON;
    const q = reference[i]! > 0 ? reference[i]! : PSI_EPSILON;
    s += (p - q) * Math.log(p / q);
  }
  return s;
}
